"""The posting engine. Every ledger write (transfers, reversals, holds, expiry) is planned as
entries and applied here, so the balance, lot and idempotency rules live in one place."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from ledger import hashing
from ledger import repository as repo
from ledger.errors import IdempotencyConflict, InsufficientBalance, InvalidEntry, LedgerError
from ledger.repository import AccountRef
from ledger.schemas import EntryOut, PostingOut

MAX_AMOUNT = 2**53  # far above any real balance, far below bigint overflow when summed
MAX_KEY_LENGTH = 200


@dataclass(slots=True)
class LotPlan:
    """What a posting does to expiry lots on a LOTS account."""

    mode: str  # "new": open a lot; "fifo": consume oldest-expiring; "from_lots"; "restore"
    expires_at: datetime | None = None
    lot_ids: tuple[uuid.UUID, ...] = ()
    source_entry_id: uuid.UUID | None = None


@dataclass(slots=True)
class PlannedPosting:
    account: AccountRef
    amount: int
    lots: LotPlan | None = None
    balance_after: int | None = None


@dataclass(slots=True)
class PlannedEntry:
    key: str
    kind: str
    actor: str
    postings: list[PlannedPosting]
    request_hash: str
    memo: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    effective_at: datetime | None = None
    reverses_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    seq: int | None = None
    # On conflict with an existing entry that reverses the same target.
    on_taken_reversal: type[LedgerError] | None = None


def validate(entry: PlannedEntry) -> None:
    """Refuse entries that are not a balanced, well-formed double-entry transaction."""
    if not entry.key or len(entry.key) > MAX_KEY_LENGTH:
        raise InvalidEntry(f"The idempotency key must be 1 to {MAX_KEY_LENGTH} characters.")
    if not entry.actor:
        raise InvalidEntry("Every entry names the principal that made it.")
    if len(entry.postings) < 2:
        raise InvalidEntry("An entry needs at least two postings.", postings=len(entry.postings))
    seen: set[uuid.UUID] = set()
    totals: dict[str, int] = defaultdict(int)
    for posting in entry.postings:
        _validate_posting(posting, seen)
        totals[posting.account.asset] += posting.amount
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    if unbalanced:
        raise InvalidEntry(
            "Postings must sum to zero for each asset.", unbalanced=dict(sorted(unbalanced.items()))
        )


def _validate_posting(posting: PlannedPosting, seen: set[uuid.UUID]) -> None:
    account = posting.account
    if isinstance(posting.amount, bool) or not isinstance(posting.amount, int):
        raise InvalidEntry("Amounts are whole numbers.", account=account.code)
    if posting.amount == 0:
        raise InvalidEntry("A posting cannot be zero.", account=account.code)
    if abs(posting.amount) >= MAX_AMOUNT:
        raise InvalidEntry("The amount is out of range.", account=account.code)
    if account.id in seen:
        raise InvalidEntry("An account may appear only once in an entry.", account=account.code)
    seen.add(account.id)
    lots = posting.lots
    if lots is not None and not account.lots:
        raise InvalidEntry("Only LOTS accounts take lot instructions.", account=account.code)
    if lots is not None and lots.mode == "new" and posting.amount < 0:
        raise InvalidEntry("An expiry applies to credits only.", account=account.code)


def _check_expiries(entry: PlannedEntry, now: datetime) -> None:
    for posting in entry.postings:
        lots = posting.lots
        if lots and lots.mode == "new" and lots.expires_at and lots.expires_at <= now:
            raise InvalidEntry("The expiry must be in the future.", account=posting.account.code)


async def apply(session: AsyncSession, planned: list[PlannedEntry]) -> list[EntryOut]:
    """Write the entries atomically (the caller's transaction), replaying known keys."""
    now = clock.now()
    unique = _dedupe(planned)
    for entry in unique:
        validate(entry)
        if entry.effective_at is None:
            entry.effective_at = now
    rows = sorted((_entry_row(e, now) for e in unique), key=lambda r: str(r["key"]))
    seqs = await repo.insert_entries(session, rows)
    fresh = [e for e in unique if e.key in seqs]
    for entry in fresh:
        entry.seq = seqs[entry.key]
        _check_expiries(entry, now)  # after the replay check: a retry may come after the expiry
    replays = await _replays(session, [e for e in unique if e.key not in seqs])
    await _apply_balances(session, fresh)
    await _apply_lots(session, fresh, now)
    await repo.insert_postings(session, _posting_rows(fresh, now))
    outputs = {e.key: _output(e, now) for e in fresh}
    outputs.update(replays)
    return [outputs[e.key] for e in planned]


def _dedupe(planned: list[PlannedEntry]) -> list[PlannedEntry]:
    by_key: dict[str, PlannedEntry] = {}
    for entry in planned:
        first = by_key.setdefault(entry.key, entry)
        if first is not entry and first.request_hash != entry.request_hash:
            raise IdempotencyConflict(
                "The same key appears twice in the batch with different content.", key=entry.key
            )
    return list(by_key.values())


def _entry_row(entry: PlannedEntry, now: datetime) -> dict[str, Any]:
    assert entry.effective_at is not None
    digest = hashing.entry_hash(
        entry_id=entry.id,
        key=entry.key,
        kind=entry.kind,
        memo=entry.memo,
        metadata=entry.metadata,
        actor=entry.actor,
        effective_at=entry.effective_at,
        created_at=now,
        reverses_id=entry.reverses_id,
        postings=[(p.account.id, p.account.asset, p.amount) for p in entry.postings],
    )
    return {
        "id": entry.id,
        "key": entry.key,
        "kind": entry.kind,
        "memo": entry.memo,
        "metadata": entry.metadata,
        "actor": entry.actor,
        "effective_at": entry.effective_at,
        "created_at": now,
        "reverses_id": entry.reverses_id,
        "request_hash": entry.request_hash,
        "hash": digest,
    }


async def _replays(session: AsyncSession, stale: list[PlannedEntry]) -> dict[str, EntryOut]:
    """Entries whose insert was skipped: a replay of the same request, or a conflict."""
    if not stale:
        return {}
    existing = {r.key: r for r in await repo.entries_by_keys(session, [e.key for e in stale])}
    for entry in stale:
        row = existing.get(entry.key)
        if row is None:  # the key is free, so the reversal target was taken
            error = entry.on_taken_reversal or LedgerError
            raise error("The entry has already been reversed.", entry_id=str(entry.reverses_id))
        if row.request_hash != entry.request_hash:
            raise IdempotencyConflict(
                "This idempotency key was already used for a different request.", key=entry.key
            )
    outputs = await load_outputs(session, list(existing.values()))
    for out in outputs.values():
        out.replayed = True
    return outputs


async def load_outputs(session: AsyncSession, rows: list[Any]) -> dict[str, EntryOut]:
    """Render stored entries (rows of ledger_entry) with their postings, keyed by entry key."""
    postings: dict[uuid.UUID, list[PostingOut]] = defaultdict(list)
    for p in await repo.postings_of(session, [r.id for r in rows]):
        postings[p.entry_id].append(
            PostingOut(
                account=p.code, asset=p.asset, amount=p.amount, balance_after=p.balance_after
            )
        )
    return {
        r.key: EntryOut(
            id=r.id,
            seq=r.seq,
            key=r.key,
            kind=r.kind,
            memo=r.memo,
            metadata=r.metadata,
            actor=r.actor,
            effective_at=r.effective_at,
            created_at=r.created_at,
            reverses_id=r.reverses_id,
            postings=postings[r.id],
        )
        for r in rows
    }


async def _apply_balances(session: AsyncSession, fresh: list[PlannedEntry]) -> None:
    """Move materialised balances, refusing any that would go negative at any step."""
    moves: dict[uuid.UUID, list[PlannedPosting]] = defaultdict(list)
    for entry in fresh:
        for posting in entry.postings:
            if posting.account.materialised:
                moves[posting.account.id].append(posting)
    if not moves:
        return
    deltas = {aid: sum(p.amount for p in ps) for aid, ps in moves.items()}
    if repo.dialect(session) == "postgresql" and len(deltas) > 4:
        new_balances = await repo.add_to_balances_pg(session, deltas)
    else:
        new_balances = {}
        for aid in sorted(deltas):  # one lock order for everyone: no deadlocks
            new = await repo.add_to_balance(session, aid, deltas[aid])
            if new is None:
                await _refuse(session, moves[aid][0].account, deltas[aid])
            new_balances[aid] = new
    for aid, postings in moves.items():
        running = new_balances[aid] - deltas[aid]
        for posting in postings:
            running += posting.amount
            if running < 0:
                await _refuse(session, posting.account, posting.amount, at=running - posting.amount)
            posting.balance_after = running


async def _refuse(
    session: AsyncSession, account: AccountRef, delta: int, *, at: int | None = None
) -> NoReturn:
    balance = at if at is not None else await repo.stored_balance(session, account.id) or 0
    raise InsufficientBalance(
        f"{account.code} holds {balance} {account.asset}; {-delta} needed.",
        account=account.code,
        balance=balance,
        requested=-delta,
    )


def _posting_rows(fresh: list[PlannedEntry], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": entry.id,
            "account_id": p.account.id,
            "asset": p.account.asset,
            "amount": p.amount,
            "balance_after": p.balance_after,
            "created_at": now,
        }
        for entry in fresh
        for p in entry.postings
    ]


def _output(entry: PlannedEntry, now: datetime) -> EntryOut:
    assert entry.seq is not None
    assert entry.effective_at is not None
    return EntryOut(
        id=entry.id,
        seq=entry.seq,
        key=entry.key,
        kind=entry.kind,
        memo=entry.memo,
        metadata=entry.metadata,
        actor=entry.actor,
        effective_at=entry.effective_at,
        created_at=now,
        reverses_id=entry.reverses_id,
        postings=[
            PostingOut(
                account=p.account.code,
                asset=p.account.asset,
                amount=p.amount,
                balance_after=p.balance_after,
            )
            for p in entry.postings
        ],
    )


async def _apply_lots(session: AsyncSession, fresh: list[PlannedEntry], now: datetime) -> None:
    from ledger.service.lots import LotBook

    work = [(e, p) for e in fresh for p in e.postings if p.lots is not None]
    if not work:
        return
    book = await LotBook.load(session, work, now)
    for entry, posting in work:
        book.apply(entry.id, posting)
    await book.save(session, now)
