"""Queries behind rankings: residents' choices (points_member) and their monthly award points."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from points.models import Award, AwardStatus, Member


async def member(session: AsyncSession, resident_id: uuid.UUID) -> Member | None:
    return await session.get(Member, resident_id, populate_existing=True)


async def opted_in(
    session: AsyncSession, resident_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """Opted-in residents (of `resident_ids`, or all) and the community they rank in."""
    query = select(col(Member.resident_id), col(Member.community)).where(
        col(Member.ranking_opt_in).is_(True), col(Member.community).is_not(None)
    )
    if resident_ids is not None:
        if not resident_ids:
            return {}
        query = query.where(col(Member.resident_id).in_(set(resident_ids)))
    return {row.resident_id: row.community for row in await session.execute(query)}


async def month_points(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    resident_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, int]:
    """Points of posted awards, less what was reversed, posted in [start, end), by resident.

    An award is posted when it is created, or when an approver decides it (`decided_at`)."""
    posted_at = func.coalesce(col(Award.decided_at), col(Award.created_at))
    query = (
        select(
            col(Award.resident_id),
            func.sum(col(Award.points) - col(Award.reversed_points)).label("points"),
        )
        .where(col(Award.status) == AwardStatus.POSTED.value, posted_at >= start, posted_at < end)
        .group_by(col(Award.resident_id))
    )
    if resident_ids is not None:
        query = query.where(col(Award.resident_id).in_(set(resident_ids)))
    return {row.resident_id: int(row.points) for row in await session.execute(query)}
