"""Queries over the behaviour-list tables."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import is_postgresql
from points.models import Behaviour, BehaviourVersion


async def latest_version(session: AsyncSession) -> BehaviourVersion | None:
    query = select(BehaviourVersion).order_by(col(BehaviourVersion.number).desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def version_by_number(session: AsyncSession, number: int) -> BehaviourVersion | None:
    query = select(BehaviourVersion).where(col(BehaviourVersion.number) == number)
    return (await session.execute(query)).scalar_one_or_none()


async def behaviours_of(
    session: AsyncSession, version_id: int, *, category: str | None = None
) -> Sequence[Behaviour]:
    query = select(Behaviour).where(col(Behaviour.version_id) == version_id)
    if category is not None:
        query = query.where(col(Behaviour.category) == category)
    return (await session.execute(query.order_by(col(Behaviour.id)))).scalars().all()


async def count_behaviours(session: AsyncSession, version_id: int) -> int:
    query = (
        select(func.count()).select_from(Behaviour).where(col(Behaviour.version_id) == version_id)
    )
    return int((await session.execute(query)).scalar_one())


async def behaviour_by_code(session: AsyncSession, version_id: int, code: str) -> Behaviour | None:
    query = select(Behaviour).where(
        col(Behaviour.version_id) == version_id, col(Behaviour.code) == code
    )
    return (await session.execute(query)).scalar_one_or_none()


# Arbitrary constant naming the advisory lock that serialises publishing on PostgreSQL.
_PUBLISH_LOCK = 0x5054_4256


async def lock_publishing(session: AsyncSession) -> None:
    """One publisher at a time (SQLite: the unit of work already holds the write lock)."""
    if is_postgresql(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PUBLISH_LOCK})
