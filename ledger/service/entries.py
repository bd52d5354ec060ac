"""Posting entries (one or a batch) and reversing them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from ledger import hashing
from ledger import repository as repo
from ledger.errors import (
    AlreadyReversed,
    EntryNotFound,
    IdempotencyConflict,
    InvalidEntry,
    NotReversible,
    ReversalExceedsRemaining,
)
from ledger.repository import AccountRef
from ledger.schemas import EntryIn, EntryOut, PostingIn
from ledger.service import engine
from ledger.service.accounts import resolve
from ledger.service.engine import LotPlan, PlannedEntry, PlannedPosting

MAX_MEMO = 500
MAX_METADATA_BYTES = 8192


async def post_entry(
    session: AsyncSession,
    *,
    key: str,
    postings: Sequence[PostingIn],
    actor: str,
    memo: str = "",
    metadata: dict[str, Any] | None = None,
    effective_at: datetime | None = None,
) -> EntryOut:
    """Post one balanced entry; replaying its key returns the first result."""
    entry = EntryIn(
        key=key,
        postings=list(postings),
        actor=actor,
        memo=memo,
        metadata=metadata or {},
        effective_at=effective_at,
    )
    return (await post_entries(session, [entry]))[0]


async def post_entries(session: AsyncSession, entries: Sequence[EntryIn]) -> list[EntryOut]:
    """Post many entries in the caller's transaction: all of them, or none."""
    if not entries:
        return []
    accounts = await resolve(session, [p.account for e in entries for p in e.postings])
    return await engine.apply(session, [_plan_transfer(e, accounts) for e in entries])


def _plan_transfer(entry: EntryIn, accounts: dict[str, AccountRef]) -> PlannedEntry:
    _check_annotations(entry.memo, entry.metadata)
    effective_at = clock.as_utc(entry.effective_at) if entry.effective_at else None
    postings = [_plan_posting(p, accounts[p.account]) for p in entry.postings]
    fingerprint = {
        "kind": "transfer",
        "postings": [[p.account, p.amount, p.expires_at] for p in entry.postings],
        "memo": entry.memo,
        "metadata": entry.metadata,
        "actor": entry.actor,
        "effective_at": effective_at,
    }
    return PlannedEntry(
        key=entry.key,
        kind="transfer",
        actor=entry.actor,
        postings=postings,
        request_hash=hashing.request_hash(fingerprint),
        memo=entry.memo,
        metadata=entry.metadata,
        effective_at=effective_at,
    )


def _plan_posting(posting: PostingIn, account: AccountRef) -> PlannedPosting:
    expires_at = clock.as_utc(posting.expires_at) if posting.expires_at else None
    if expires_at is not None:
        if not account.lots:
            raise InvalidEntry("Only LOTS accounts take an expiry.", account=account.code)
        if posting.amount < 0:
            raise InvalidEntry("An expiry applies to credits only.", account=account.code)
    lots = None
    if account.lots:
        lots = LotPlan("new", expires_at) if posting.amount > 0 else LotPlan("fifo")
    return PlannedPosting(account, posting.amount, lots)


def _check_annotations(memo: str, metadata: dict[str, Any]) -> None:
    if len(memo) > MAX_MEMO:
        raise InvalidEntry(f"The memo is limited to {MAX_MEMO} characters.")
    try:
        size = len(hashing.canonical(metadata))
    except (TypeError, ValueError) as exc:
        raise InvalidEntry("Metadata must be plain JSON.") from exc
    if size > MAX_METADATA_BYTES:
        raise InvalidEntry(f"Metadata is limited to {MAX_METADATA_BYTES} bytes.")


async def reverse(
    session: AsyncSession,
    *,
    entry_id: uuid.UUID,
    key: str,
    actor: str,
    memo: str = "",
    amount: int | None = None,
) -> EntryOut:
    """Undo a transfer with a new entry that points at it; `amount` reverses part of it.

    An entry is reversed at most once. Points credited to a LOTS account can only be taken
    back from the lots that entry opened: what was spent or expired cannot be reversed."""
    original = await repo.entry_by_id(session, entry_id)
    if original is None:
        raise EntryNotFound(f"No ledger entry {entry_id}.", entry_id=str(entry_id))
    if original.kind != "transfer":
        raise NotReversible(f"A {original.kind} entry cannot be reversed.", kind=original.kind)
    fingerprint = {
        "kind": "reversal",
        "reverses": entry_id,
        "amount": amount,
        "memo": memo,
        "actor": actor,
    }
    earlier = await _earlier_reversal(session, entry_id, key, fingerprint)
    if earlier is not None:
        return earlier
    legs = await repo.postings_of(session, [entry_id])
    accounts = await repo.accounts_by_id(session, [p.account_id for p in legs])
    sizes = _reversal_sizes(legs, amount)
    postings = []
    for leg in legs:
        account = accounts[leg.account_id]
        back = -sizes[leg.account_id]
        plan = await _reversal_lots(session, entry_id, account, back) if account.lots else None
        postings.append(PlannedPosting(account, back, plan))
    planned = PlannedEntry(
        key=key,
        kind="reversal",
        actor=actor,
        postings=postings,
        request_hash=hashing.request_hash(fingerprint),
        memo=memo or f"Reversal of {original.key}"[:MAX_MEMO],
        metadata={"reverses_key": original.key},
        reverses_id=entry_id,
        on_taken_reversal=AlreadyReversed,
    )
    return (await engine.apply(session, [planned]))[0]


async def _earlier_reversal(
    session: AsyncSession, entry_id: uuid.UUID, key: str, fingerprint: dict[str, Any]
) -> EntryOut | None:
    """The reversal already made with this key (a replay), or a refusal if one exists."""
    existing = await repo.entry_reversing(session, entry_id)
    if existing is None:
        return None
    if existing.key != key:
        raise AlreadyReversed("The entry has already been reversed.", entry_id=str(entry_id))
    if existing.request_hash != hashing.request_hash(fingerprint):
        raise IdempotencyConflict("This key was used for a different reversal.", key=key)
    out = (await engine.load_outputs(session, [existing]))[key]
    out.replayed = True
    return out


def _reversal_sizes(legs: Sequence[Any], amount: int | None) -> dict[uuid.UUID, int]:
    if amount is None:
        return {leg.account_id: leg.amount for leg in legs}
    if len(legs) != 2:
        raise NotReversible("Only a two-posting entry can be reversed in part.")
    full = max(leg.amount for leg in legs)
    if isinstance(amount, bool) or not 0 < amount <= full:
        raise InvalidEntry(f"A partial reversal is between 1 and {full}.", maximum=full)
    return {leg.account_id: amount if leg.amount > 0 else -amount for leg in legs}


async def _reversal_lots(
    session: AsyncSession, entry_id: uuid.UUID, account: AccountRef, back: int
) -> LotPlan:
    if back > 0:  # the entry spent from this wallet: give back the very lots it consumed
        return LotPlan("restore", source_entry_id=entry_id)
    lots = await repo.lots_created_by(session, entry_id, account.id)
    now = clock.now()
    usable = [lot for lot in lots if lot.expires_at is None or lot.expires_at > now]
    remaining = sum(lot.remaining for lot in usable)
    if remaining < -back:
        raise ReversalExceedsRemaining(
            f"Only {remaining} of the {-back} {account.asset} credited to {account.code} "
            "remain unspent and unexpired.",
            account=account.code,
            remaining=remaining,
            requested=-back,
        )
    return LotPlan("from_lots", lot_ids=tuple(lot.id for lot in usable))
