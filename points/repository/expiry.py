"""Read-only queries behind the expiry sweep and its reminders: which wallets hold lots that
have lapsed or will soon, and what the ledger's expiry entries took, by award category.

Like `points.repository.views`, these read ledger tables; the ledger alone writes them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ledger.models import Account, Entry, Lot, LotUse, Posting
from notifications.models import OutboxMessage
from points.models import Award

WALLET_PATTERN = "resident:%"


async def last_entry_seq(session: AsyncSession) -> int:
    query: Any = select(func.coalesce(func.max(col(Entry.seq)), 0))
    value: Any = (await session.execute(query)).scalar_one()
    return int(value)


async def count_lapsed_wallets(session: AsyncSession, now: datetime) -> int:
    """Wallets with expired lots that still hold points: what a sweep has left to do."""
    query: Any = select(func.count(func.distinct(col(Lot.account_id)))).where(
        col(Lot.expires_at) <= now, col(Lot.remaining) > 0
    )
    return int((await session.execute(query)).scalar_one())


async def expiries_since(session: AsyncSession, after_seq: int) -> Sequence[Any]:
    """Expiry entries after `after_seq` on residents' wallets: entry, wallet code, points."""
    query: Any = (
        select(
            col(Entry.id).label("entry_id"),
            col(Entry.effective_at),
            col(Account.code),
            (-col(Posting.amount)).label("points"),
        )
        .join(Posting, col(Posting.entry_id) == col(Entry.id))
        .join(Account, col(Account.id) == col(Posting.account_id))
        .where(
            col(Entry.seq) > after_seq,
            col(Entry.kind) == "expiry",
            col(Posting.amount) < 0,
            col(Account.code).like(WALLET_PATTERN),
        )
        .order_by(col(Entry.seq))
    )
    return (await session.execute(query)).all()


async def consumed_by_category(
    session: AsyncSession, entry_ids: Sequence[uuid.UUID]
) -> Sequence[Any]:
    """Per entry, the points it took from lots opened by awards of each category (None: a lot
    no award opened). Negative uses (lots given back) net out."""
    if not entry_ids:
        return []
    query: Any = (
        select(
            col(LotUse.entry_id),
            col(Award.category),
            func.sum(col(LotUse.amount)).label("points"),
        )
        .join(Lot, col(Lot.id) == col(LotUse.lot_id))
        .outerjoin(Award, col(Award.entry_id) == col(Lot.entry_id))
        .where(col(LotUse.entry_id).in_(set(entry_ids)))
        .group_by(col(LotUse.entry_id), col(Award.category))
    )
    return (await session.execute(query)).all()


async def wallets_expiring(
    session: AsyncSession,
    *,
    now: datetime,
    until: datetime,
    after: uuid.UUID | None,
    limit: int,
) -> list[tuple[uuid.UUID, str]]:
    """The next `limit` wallets (by id, after `after`) with points lapsing in (now, until]."""
    query: Any = (
        select(col(Lot.account_id), col(Account.code))
        .join(Account, col(Account.id) == col(Lot.account_id))
        .where(
            col(Lot.remaining) > 0,
            col(Lot.expires_at) > now,
            col(Lot.expires_at) <= until,
            col(Account.code).like(WALLET_PATTERN),
        )
        .group_by(col(Lot.account_id), col(Account.code))
        .order_by(col(Lot.account_id))
        .limit(limit)
    )
    if after is not None:
        query = query.where(col(Lot.account_id) > after)
    return [(row.account_id, row.code) for row in await session.execute(query)]


async def lots_expiring(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], *, now: datetime, until: datetime
) -> Sequence[Any]:
    query: Any = (
        select(col(Lot.account_id), col(Lot.remaining), col(Lot.expires_at))
        .where(
            col(Lot.account_id).in_(set(account_ids)),
            col(Lot.remaining) > 0,
            col(Lot.expires_at) > now,
            col(Lot.expires_at) <= until,
        )
        .order_by(col(Lot.account_id), col(Lot.expires_at))
    )
    return (await session.execute(query)).all()


async def queued_dedupe_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of `keys` the outbox already holds (to count only what a run adds)."""
    if not keys:
        return set()
    query: Any = select(col(OutboxMessage.dedupe_key)).where(
        col(OutboxMessage.dedupe_key).in_(set(keys))
    )
    return {key for key in (await session.execute(query)).scalars() if key is not None}
