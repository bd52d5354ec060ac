"""Expiry of lots: what is left of a lot after its expiry moves to the expired account."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from ledger import hashing
from ledger import repository as repo
from ledger.schemas import ExpiryResult
from ledger.service import engine
from ledger.service.accounts import system_account
from ledger.service.engine import LotPlan, PlannedEntry, PlannedPosting

SYSTEM_ACTOR = "system:expiry"


async def expire(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 1000
) -> ExpiryResult:
    """Post one expiry entry per account for its lots expired by `now` (up to `limit` accounts).

    Each account's row is locked before its lots are read, so a concurrent spend or a second
    expiry run waits, then sees what is really left: every lot expires exactly once."""
    now = clock.as_utc(now) if now else clock.now()
    result = ExpiryResult()
    for account_id in await repo.accounts_with_expired_lots(session, now, limit):
        await repo.lock_account(session, account_id)
        lots = await repo.expired_lots(session, account_id, now)
        if not lots:
            continue
        account = (await repo.accounts_by_id(session, [account_id]))[account_id]
        sink = await system_account(session, "expired", account.asset)
        total = sum(lot.remaining for lot in lots)
        seal = hashlib.sha256(
            "|".join(f"{lot.id}:{lot.remaining}" for lot in lots).encode()
        ).hexdigest()[:40]
        consume = LotPlan("from_lots", lot_ids=tuple(lot.id for lot in lots))
        planned = PlannedEntry(
            key=f"expiry:{account_id}:{seal}",
            kind="expiry",
            actor=SYSTEM_ACTOR,
            postings=[
                PlannedPosting(account, -total, consume),
                PlannedPosting(sink, total),
            ],
            request_hash=hashing.request_hash({"kind": "expiry", "seal": seal}),
            memo="Points expired",
            metadata={"lots": len(lots), "as_of": now.isoformat()},
            effective_at=now,
        )
        await engine.apply(session, [planned])
        result.entries += 1
        result.amount += total
    return result
