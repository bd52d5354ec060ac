"""Expiry of lots: what is left of a lot after its expiry moves to the expired account."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from ledger import hashing
from ledger import repository as repo
from ledger.repository import AccountRef
from ledger.schemas import ExpiryResult
from ledger.service import engine
from ledger.service.accounts import system_account
from ledger.service.engine import LotPlan, PlannedEntry, PlannedPosting

SYSTEM_ACTOR = "system:expiry"


async def expire(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 1000
) -> ExpiryResult:
    """Post one expiry entry per account for its lots expired by `now` (up to `limit` accounts).

    The accounts' rows are locked (in id order) before their lots are read, so a concurrent
    spend or a second expiry run waits, then sees what is really left: every lot expires exactly
    once. Give it a transaction of its own."""
    now = clock.as_utc(now) if now else clock.now()
    candidates = await repo.accounts_with_expired_lots(session, now, limit)
    if not candidates:
        return ExpiryResult()
    accounts = await repo.accounts_by_id(session, candidates)
    sinks = {a.asset: await system_account(session, "expired", a.asset) for a in accounts.values()}
    await repo.lock_accounts(session, candidates)
    expired = await repo.expired_lots(session, candidates, now)
    planned = [
        _expiry_entry(accounts[account_id], sinks[accounts[account_id].asset], lots, now)
        for account_id, lots in expired.items()
    ]
    await engine.apply(session, planned)
    return ExpiryResult(entries=len(planned), amount=sum(-e.postings[0].amount for e in planned))


def _expiry_entry(
    account: AccountRef, sink: AccountRef, lots: Sequence[Any], now: datetime
) -> PlannedEntry:
    total = sum(lot.remaining for lot in lots)
    # Exactly once comes from the account's row lock: a second run reads what is left after the
    # first. The key is fresh each run, since the same lot may expire again after a give-back.
    digest = hashlib.sha256(
        "|".join(f"{lot.id}:{lot.remaining}" for lot in lots).encode()
    ).hexdigest()
    consume = LotPlan("from_lots", lot_ids=tuple(lot.id for lot in lots))
    return PlannedEntry(
        key=f"expiry:{account.id}:{new_id()}",
        kind="expiry",
        actor=SYSTEM_ACTOR,
        postings=[PlannedPosting(account, -total, consume), PlannedPosting(sink, total)],
        request_hash=hashing.request_hash({"kind": "expiry", "lots": digest}),
        memo="Points expired",
        metadata={"lots": len(lots), "as_of": now.isoformat()},
        effective_at=now,
    )
