"""Read-only queries behind residents' views: a wallet's lots and history joined to the awards,
redemptions and rewards they came from.

These read ledger tables (postings, entries, lots, holds) next to the programme's own. The ledger
stays the only writer of its tables; joining them here keeps a filtered, keyset-paginated history
one query instead of a scan of `ledger.statement` pages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ledger.models import Account, Entry, Hold, HoldStatus, Lot, Posting
from points.models import Award, Behaviour, Redemption, Reward
from points.schemas.views import HistoryFilters

# Ledger entry kinds behind each history kind (award and adjustment are both `transfer`).
REFUND_KINDS = ("hold_void", "hold_timeout", "hold_post")
LEDGER_KINDS = {"reversal": ("reversal",), "redemption": ("hold",), "expiry": ("expiry",)}


async def account_id(session: AsyncSession, code: str) -> uuid.UUID | None:
    query: Any = select(col(Account.id)).where(col(Account.code) == code)
    return (await session.execute(query)).scalar_one_or_none()


async def open_lots(session: AsyncSession, account: uuid.UUID, now: datetime) -> Sequence[Any]:
    """Unexpired lots with points left, each with the category of the award that opened it."""
    query: Any = (
        select(col(Lot.remaining), col(Lot.expires_at), col(Award.category))
        .select_from(Lot)
        .outerjoin(Award, col(Award.entry_id) == col(Lot.entry_id))
        .where(
            col(Lot.account_id) == account,
            col(Lot.remaining) > 0,
            or_(col(Lot.expires_at).is_(None), col(Lot.expires_at) > now),
        )
    )
    return (await session.execute(query)).all()


async def held_points(session: AsyncSession, account: uuid.UUID) -> int:
    query: Any = select(func.coalesce(func.sum(col(Hold.amount)), 0)).where(
        col(Hold.source_id) == account, col(Hold.status) == HoldStatus.PENDING.value
    )
    return int((await session.execute(query)).scalar_one())


def _awards_of(resident_id: uuid.UUID, category: str | None) -> Any:
    query: Any = select(col(Award.entry_id)).where(
        col(Award.resident_id) == resident_id, col(Award.entry_id).is_not(None)
    )
    if category is not None:
        query = query.where(col(Award.category) == category)
    return query


def _kind_clause(kind: str, resident_id: uuid.UUID) -> Any:
    if kind in LEDGER_KINDS:
        return col(Entry.kind).in_(LEDGER_KINDS[kind])
    if kind == "refund":
        return col(Entry.kind).in_(REFUND_KINDS)
    awarded = col(Entry.id).in_(_awards_of(resident_id, None))
    if kind == "award":
        return and_(col(Entry.kind) == "transfer", awarded)
    known = (*REFUND_KINDS, *(k for kinds in LEDGER_KINDS.values() for k in kinds))
    return and_(col(Entry.kind).not_in(known), or_(col(Entry.kind) != "transfer", ~awarded))


async def history_rows(
    session: AsyncSession,
    *,
    account: uuid.UUID,
    resident_id: uuid.UUID,
    filters: HistoryFilters,
    before_seq: int | None,
    limit: int,
) -> Sequence[Any]:
    """Newest-first postings of the wallet matching `filters`, below `before_seq`."""
    query: Any = (
        select(
            col(Posting.seq),
            col(Posting.amount),
            col(Posting.balance_after),
            col(Posting.created_at),
            col(Entry.id).label("entry_id"),
            col(Entry.kind),
            col(Entry.reverses_id),
        )
        .join(Entry, col(Entry.id) == col(Posting.entry_id))
        .where(col(Posting.account_id) == account)
        .order_by(col(Posting.seq).desc())
        .limit(limit)
    )
    if before_seq is not None:
        query = query.where(col(Posting.seq) < before_seq)
    if filters.start is not None:
        query = query.where(col(Posting.created_at) >= filters.start)
    if filters.end is not None:
        query = query.where(col(Posting.created_at) < filters.end)
    if filters.kind is not None:
        query = query.where(_kind_clause(filters.kind, resident_id))
    if filters.category is not None:
        of_category = _awards_of(resident_id, filters.category)
        query = query.where(
            or_(col(Entry.id).in_(of_category), col(Entry.reverses_id).in_(of_category))
        )
    return (await session.execute(query)).all()


async def awards_with_behaviours(
    session: AsyncSession, entry_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """Awards (with their behaviour's titles) by the ledger entry that posted them."""
    if not entry_ids:
        return {}
    query: Any = (
        select(
            col(Award.entry_id),
            col(Award.category),
            col(Behaviour.code),
            col(Behaviour.title_zh),
            col(Behaviour.title_en),
        )
        .join(Behaviour, col(Behaviour.id) == col(Award.behaviour_id))
        .where(col(Award.entry_id).in_(set(entry_ids)))
    )
    return {row.entry_id: row for row in await session.execute(query)}


async def rewards_by_entry(
    session: AsyncSession, entry_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The reward behind each hold entry or hold resolution entry among `entry_ids`."""
    if not entry_ids:
        return {}
    wanted = set(entry_ids)
    query: Any = (
        select(
            col(Hold.entry_id),
            col(Hold.resolution_entry_id),
            col(Reward.id),
            col(Reward.title_zh),
            col(Reward.title_en),
        )
        .join(Redemption, col(Redemption.hold_id) == col(Hold.id))
        .join(Reward, col(Reward.id) == col(Redemption.reward_id))
        .where(or_(col(Hold.entry_id).in_(wanted), col(Hold.resolution_entry_id).in_(wanted)))
    )
    found: dict[uuid.UUID, Any] = {}
    for row in await session.execute(query):
        found[row.entry_id] = row
        if row.resolution_entry_id is not None:
            found[row.resolution_entry_id] = row
    return found
