"""Queries over awards and fraud flags."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import upsert
from points.models import Award, AwardStatus, Behaviour, BehaviourVersion, Flag

award_t: Table = Award.__table__  # type: ignore[attr-defined]
flag_t: Table = Flag.__table__  # type: ignore[attr-defined]


async def insert_award(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Insert the award unless its idempotency key or its (earning code, behaviour) is taken.

    A concurrent insert of the same key waits for the first transaction and then skips, so two
    retries of one request never both award."""
    statement = upsert(session, award_t).on_conflict_do_nothing().returning(award_t.c.id)
    return (await session.execute(statement, [row])).first() is not None


async def by_key(session: AsyncSession, issued_by: str, key: str) -> Award | None:
    query = select(Award).where(
        col(Award.issued_by) == issued_by, col(Award.idempotency_key) == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def by_id(session: AsyncSession, award_id: uuid.UUID) -> Award | None:
    return await session.get(Award, award_id, populate_existing=True)


async def behaviour_of(session: AsyncSession, behaviour_id: int) -> tuple[Behaviour, int]:
    """The behaviour row an award was made under, and its list version's number."""
    query = (
        select(Behaviour, col(BehaviourVersion.number))
        .join(BehaviourVersion, col(BehaviourVersion.id) == col(Behaviour.version_id))
        .where(col(Behaviour.id) == behaviour_id)
    )
    behaviour, number = (await session.execute(query)).one()
    return behaviour, number


async def current_behaviour(session: AsyncSession, code: str) -> tuple[Behaviour, int] | None:
    """The behaviour `code` in the newest list version, with that version's number."""
    newest = select(func.max(BehaviourVersion.number)).scalar_subquery()
    query = (
        select(Behaviour, col(BehaviourVersion.number))
        .join(BehaviourVersion, col(BehaviourVersion.id) == col(Behaviour.version_id))
        .where(col(Behaviour.code) == code, col(BehaviourVersion.number) == newest)
    )
    found = (await session.execute(query)).first()
    return None if found is None else (found[0], found[1])


async def decide(
    session: AsyncSession, award_id: uuid.UUID, *, status: AwardStatus, values: dict[str, Any]
) -> bool:
    """Move a pending award to `status`; False if it was not pending (another approver won)."""
    statement = (
        update(award_t)
        .where(award_t.c.id == award_id, award_t.c.status == AwardStatus.PENDING.value)
        .values(status=status.value, **values)
    )
    result: Any = await session.execute(statement)
    return bool(result.rowcount)


async def claim_reversal(
    session: AsyncSession, award_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    """Mark the award reversed unless it already is: False if another reversal holds it.

    The row lock this takes makes a concurrent reversal of the same award wait, then find it
    taken, so caps and budget are given back once."""
    statement = (
        update(award_t)
        .where(
            award_t.c.id == award_id,
            award_t.c.reversed_points == 0,
            award_t.c.reversal_entry_id.is_(None),
        )
        .values(**values)
    )
    result: Any = await session.execute(statement)
    return bool(result.rowcount)


async def set_values(session: AsyncSession, award_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(award_t).where(award_t.c.id == award_id).values(**values))


async def recent_by_staff(
    session: AsyncSession,
    staff_id: uuid.UUID,
    resident_id: uuid.UUID,
    *,
    pair_since: datetime,
    burst_since: datetime,
) -> tuple[int, int]:
    """The staff member's awards to this resident since `pair_since`, and their awards to
    anyone since `burst_since` (the later of the two), in one pass over their recent awards."""
    to_resident = case((award_t.c.resident_id == resident_id, 1), else_=0)
    recent = case((award_t.c.created_at >= burst_since, 1), else_=0)
    query = select(
        func.coalesce(func.sum(to_resident), 0), func.coalesce(func.sum(recent), 0)
    ).where(award_t.c.staff_id == staff_id, award_t.c.created_at >= pair_since)
    pair, burst = (await session.execute(query)).one()
    return int(pair), int(burst)


async def pending(
    session: AsyncSession,
    communities: Sequence[str] | None,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[Award]:
    """Awards waiting for approval, oldest first (ids are time-ordered), after the award `after`;
    `communities` None means every community."""
    query = select(Award).where(col(Award.status) == AwardStatus.PENDING.value)
    if communities is not None:
        query = query.where(col(Award.community).in_(communities))
    if after is not None:
        query = query.where(col(Award.id) > after)
    query = query.order_by(col(Award.id)).limit(limit)
    return (await session.execute(query)).scalars().all()


async def insert_flags(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(upsert(session, flag_t).on_conflict_do_nothing(), rows)


async def flags(
    session: AsyncSession,
    communities: Sequence[str] | None,
    *,
    reviewed: bool,
    before: uuid.UUID | None,
    limit: int,
) -> Sequence[Flag]:
    """Flags newest first (ids are time-ordered), before the flag `before`."""
    query = select(Flag)
    query = query.where(
        col(Flag.reviewed_at).is_not(None) if reviewed else col(Flag.reviewed_at).is_(None)
    )
    if communities is not None:
        query = query.where(col(Flag.community).in_(communities))
    if before is not None:
        query = query.where(col(Flag.id) < before)
    query = query.order_by(col(Flag.id).desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def flag_by_id(session: AsyncSession, flag_id: uuid.UUID) -> Flag | None:
    return await session.get(Flag, flag_id, populate_existing=True)
