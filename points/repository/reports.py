"""Read-only queries behind the operators' points report. Rows come back per award or per
redemption-and-lot; the service buckets them into local days (the local calendar is not UTC,
and SQL day truncation differs between PostgreSQL and SQLite)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ledger.models import Hold, Lot, LotUse
from points.models import Award, AwardStatus, Redemption, RedemptionStatus


def _in_communities(query: Any, communities: Collection[str] | None) -> Any:
    if communities is None:
        return query
    return query.where(col(Award.community).in_(set(communities)))


async def issued(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    communities: Collection[str] | None,
) -> Sequence[Any]:
    """Posted awards created in [start, end): (at, category, community, points)."""
    query: Any = select(
        col(Award.created_at).label("at"),
        col(Award.category),
        col(Award.community),
        col(Award.points),
    ).where(
        col(Award.status) == AwardStatus.POSTED.value,
        col(Award.created_at) >= start,
        col(Award.created_at) < end,
    )
    return (await session.execute(_in_communities(query, communities))).all()


async def reversed_(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    communities: Collection[str] | None,
) -> Sequence[Any]:
    """Reversals made in [start, end): (at, category, community, points)."""
    query: Any = select(
        col(Award.reversed_at).label("at"),
        col(Award.category),
        col(Award.community),
        col(Award.reversed_points).label("points"),
    ).where(
        col(Award.reversed_points) > 0,
        col(Award.reversed_at) >= start,
        col(Award.reversed_at) < end,
    )
    return (await session.execute(_in_communities(query, communities))).all()


async def redeemed(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    communities: Collection[str] | None,
) -> Sequence[Any]:
    """Vouchers used in [start, end), split by the awards whose lots their hold consumed:
    (at, category, community, points); category and community None for a lot no award opened."""
    query: Any = (
        select(
            col(Redemption.closed_at).label("at"),
            col(Award.category),
            col(Award.community),
            func.sum(col(LotUse.amount)).label("points"),
        )
        .join(Hold, col(Hold.id) == col(Redemption.hold_id))
        .join(
            LotUse,
            or_(
                col(LotUse.entry_id) == col(Hold.entry_id),
                col(LotUse.entry_id) == col(Hold.resolution_entry_id),
            ),
        )
        .join(Lot, col(Lot.id) == col(LotUse.lot_id))
        .outerjoin(Award, col(Award.entry_id) == col(Lot.entry_id))
        .where(
            col(Redemption.status) == RedemptionStatus.USED.value,
            col(Redemption.closed_at) >= start,
            col(Redemption.closed_at) < end,
        )
        .group_by(
            col(Redemption.id), col(Redemption.closed_at), col(Award.category), col(Award.community)
        )
    )
    return (await session.execute(_in_communities(query, communities))).all()
