"""Two-phase transfers: hold points, then post them (in full or part) or void them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from ledger import hashing
from ledger import repository as repo
from ledger.errors import (
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    IdempotencyConflict,
    InvalidEntry,
)
from ledger.models import HoldStatus
from ledger.repository import AccountRef
from ledger.schemas import HoldOut
from ledger.service import engine
from ledger.service.accounts import resolve, system_account
from ledger.service.engine import LotPlan, PlannedEntry, PlannedPosting

SYSTEM_ACTOR = "system:hold-timeout"


async def hold(
    session: AsyncSession,
    *,
    key: str,
    source: str,
    amount: int,
    expires_at: datetime,
    actor: str,
    memo: str = "",
    metadata: dict[str, Any] | None = None,
) -> HoldOut:
    """Move `amount` from `source` into the held account until posted, voided or timed out."""
    expires_at = clock.as_utc(expires_at)
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidEntry("A hold is for a positive whole amount.")
    account = (await resolve(session, [source]))[source]
    held = await system_account(session, "held", account.asset)
    fingerprint = {
        "kind": "hold",
        "source": source,
        "amount": amount,
        "expires_at": expires_at,
        "memo": memo,
        "metadata": metadata or {},
        "actor": actor,
    }
    planned = PlannedEntry(
        key=key,
        kind="hold",
        actor=actor,
        postings=[
            PlannedPosting(account, -amount, LotPlan("fifo") if account.lots else None),
            PlannedPosting(held, amount),
        ],
        request_hash=hashing.request_hash(fingerprint),
        memo=memo,
        metadata=metadata or {},
    )
    entry = (await engine.apply(session, [planned]))[0]
    # Checked after the replay check: a retry of an accepted hold may come after its timeout.
    if not entry.replayed and expires_at <= clock.now():
        raise InvalidEntry("A hold must time out in the future.")
    if not entry.replayed:
        await repo.insert_hold(
            session,
            {
                "id": new_id(),
                "key": key,
                "source_id": account.id,
                "held_id": held.id,
                "asset": account.asset,
                "amount": amount,
                "posted_amount": 0,
                "status": HoldStatus.PENDING.value,
                "expires_at": expires_at,
                "entry_id": entry.id,
                "created_at": entry.created_at,
            },
        )
    return await _out(session, await repo.hold_by_entry(session, entry.id))


async def post_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    destination: str,
    actor: str,
    amount: int | None = None,
    key: str | None = None,
    memo: str = "",
    metadata: dict[str, Any] | None = None,
) -> HoldOut:
    """Send `amount` (default: all) of a pending hold to `destination`; the rest goes back."""
    row = await _pending(session, hold_id)
    amount = row.amount if amount is None else amount
    if isinstance(amount, bool) or not 0 < amount <= row.amount:
        raise InvalidEntry(f"Between 1 and {row.amount} of this hold can be posted.")
    target = (await resolve(session, [destination]))[destination]
    if target.id == row.source_id:
        raise InvalidEntry("A hold cannot be posted back to its own source; void it instead.")
    key = key or f"hold:{hold_id}:post"
    fingerprint = {
        "kind": "hold_post",
        "hold": hold_id,
        "destination": destination,
        "amount": amount,
        "memo": memo,
        "metadata": metadata or {},
        "actor": actor,
    }
    entry_id = new_id()
    replay = await _replay_or_claim(
        session, row, key, fingerprint, entry_id, status=HoldStatus.POSTED, posted=amount
    )
    if replay is not None:
        return replay
    accounts = await repo.accounts_by_id(session, [row.source_id, row.held_id])
    postings = [PlannedPosting(accounts[row.held_id], -row.amount)]
    postings.append(PlannedPosting(target, amount, LotPlan("new") if target.lots else None))
    if amount < row.amount:
        source = accounts[row.source_id]
        plan = LotPlan("restore", source_entry_id=row.entry_id) if source.lots else None
        postings.append(PlannedPosting(source, row.amount - amount, plan))
    return await _resolve(
        session,
        row,
        _plan(row, key, fingerprint, "hold_post", actor, postings, memo, metadata or {}, entry_id),
    )


async def void_hold(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    actor: str,
    key: str | None = None,
    memo: str = "",
) -> HoldOut:
    """Release a pending hold in full back to its source."""
    row = await _pending(session, hold_id, allow_overdue=True)
    key = key or f"hold:{hold_id}:void"
    fingerprint = {"kind": "hold_void", "hold": hold_id, "memo": memo, "actor": actor}
    entry_id = new_id()
    replay = await _replay_or_claim(
        session, row, key, fingerprint, entry_id, status=HoldStatus.VOIDED
    )
    if replay is not None:
        return replay
    return await _release(session, row, key, fingerprint, "hold_void", actor, memo, entry_id)


async def expire_holds(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> int:
    """Void up to `limit` pending holds whose timeout has passed; how many were voided.

    Give it a transaction of its own: it locks the holds first (skipping any that another
    transaction is resolving right now), then their accounts in id order, like every writer."""
    now = clock.as_utc(now) if now else clock.now()
    rows = await repo.lock_overdue_holds(session, now, limit)
    if not rows:
        return 0
    accounts = await repo.accounts_by_id(
        session, [r.source_id for r in rows] + [r.held_id for r in rows]
    )
    planned = []
    for row in rows:
        entry_id = new_id()
        await repo.resolve_hold(
            session,
            row.id,
            status=HoldStatus.EXPIRED.value,
            posted_amount=0,
            resolution_entry_id=entry_id,
            resolved_at=clock.now(),
        )
        fingerprint = {"kind": "hold_timeout", "hold": row.id}
        postings = _release_postings(row, accounts)
        planned.append(
            _plan(
                row,
                f"hold:{row.id}:timeout",
                fingerprint,
                "hold_timeout",
                SYSTEM_ACTOR,
                postings,
                "Hold timed out",
                {},
                entry_id,
            )
        )
    await engine.apply(session, planned)
    return len(rows)


async def get_hold(session: AsyncSession, *, hold_id: uuid.UUID) -> HoldOut:
    row = await repo.hold_by_id(session, hold_id)
    if row is None:
        raise HoldNotFound(f"No hold {hold_id}.", hold_id=str(hold_id))
    return await _out(session, row)


async def _pending(session: AsyncSession, hold_id: uuid.UUID, allow_overdue: bool = False) -> Any:
    row = await repo.hold_by_id(session, hold_id)
    if row is None:
        raise HoldNotFound(f"No hold {hold_id}.", hold_id=str(hold_id))
    if row.status == HoldStatus.PENDING and not allow_overdue and row.expires_at <= clock.now():
        raise HoldExpired("The hold timed out before it was posted.", hold_id=str(hold_id))
    return row


async def _replay_or_claim(
    session: AsyncSession,
    row: Any,
    key: str,
    fingerprint: dict[str, Any],
    entry_id: uuid.UUID,
    *,
    status: HoldStatus,
    posted: int = 0,
) -> HoldOut | None:
    """The earlier result if this is a replay; else claim the hold (None) or refuse."""
    if row.status == HoldStatus.PENDING:
        claimed = await repo.resolve_hold(
            session,
            row.id,
            status=status.value,
            posted_amount=posted,
            resolution_entry_id=entry_id,
            resolved_at=clock.now(),
        )
        if claimed:
            return None
        row = await repo.hold_by_id(session, row.id)
    if row.resolution_entry_id is not None:
        done = await repo.entry_by_id(session, row.resolution_entry_id)
        if done is not None and done.key == key:
            if done.request_hash == hashing.request_hash(fingerprint):
                return await _out(session, row)
            if not key.startswith(f"hold:{row.id}:"):  # the caller's own key, reused
                raise IdempotencyConflict("This key was used for a different request.", key=key)
    raise HoldNotPending(f"The hold is already {row.status}.", status=row.status)


async def _release(
    session: AsyncSession,
    row: Any,
    key: str,
    fingerprint: dict[str, Any],
    kind: str,
    actor: str,
    memo: str,
    entry_id: uuid.UUID,
) -> HoldOut:
    accounts = await repo.accounts_by_id(session, [row.source_id, row.held_id])
    postings = _release_postings(row, accounts)
    return await _resolve(
        session, row, _plan(row, key, fingerprint, kind, actor, postings, memo, {}, entry_id)
    )


def _release_postings(row: Any, accounts: dict[uuid.UUID, AccountRef]) -> list[PlannedPosting]:
    """Everything held goes back to the source, into the very lots it came from."""
    source = accounts[row.source_id]
    plan = LotPlan("restore", source_entry_id=row.entry_id) if source.lots else None
    return [
        PlannedPosting(accounts[row.held_id], -row.amount),
        PlannedPosting(source, row.amount, plan),
    ]


async def _resolve(session: AsyncSession, row: Any, planned: PlannedEntry) -> HoldOut:
    await engine.apply(session, [planned])
    return await _out(session, await repo.hold_by_id(session, row.id))


def _plan(
    row: Any,
    key: str,
    fingerprint: dict[str, Any],
    kind: str,
    actor: str,
    postings: list[PlannedPosting],
    memo: str,
    metadata: dict[str, Any],
    entry_id: uuid.UUID,
) -> PlannedEntry:
    # The resolution entry's id was chosen when the hold was claimed: each points at the other.
    return PlannedEntry(
        key=key,
        kind=kind,
        actor=actor,
        postings=postings,
        request_hash=hashing.request_hash(fingerprint),
        memo=memo,
        metadata={**metadata, "hold_id": str(row.id)},
        id=entry_id,
    )


async def _out(session: AsyncSession, row: Any) -> HoldOut:
    accounts = await repo.accounts_by_id(session, [row.source_id])
    return HoldOut(
        id=row.id,
        key=row.key,
        source=accounts[row.source_id].code,
        asset=row.asset,
        amount=row.amount,
        posted_amount=row.posted_amount,
        status=row.status,
        expires_at=row.expires_at,
        entry_id=row.entry_id,
        resolution_entry_id=row.resolution_entry_id,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
    )
