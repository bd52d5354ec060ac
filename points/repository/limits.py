"""Counters that bound awards: cap usage per resident and behaviour, budget usage per staff member.

Each is raised by one conditional upsert: the row is inserted, or its points raised, only if the
result stays within the limit. On PostgreSQL a concurrent raise of the same row waits for the
first to commit and then re-checks against the committed value, so racing awards can never pass
a limit together; on SQLite the unit of work's write lock serialises them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import upsert
from points.models import CapUsage, StaffBudgetUsage

cap_t: Table = CapUsage.__table__  # type: ignore[attr-defined]
budget_t: Table = StaffBudgetUsage.__table__  # type: ignore[attr-defined]


async def raise_within(
    session: AsyncSession, table: Table, key: dict[str, Any], points: int, limit: int
) -> int | None:
    """Add `points` to the counter row `key` if the total stays <= `limit`: the new total, or
    None (nothing changed) if it would pass the limit."""
    if points > limit:
        return None
    statement = upsert(session, table).values(**key, points=points)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={"points": table.c.points + statement.excluded.points},
        where=(table.c.points + statement.excluded.points) <= limit,
    ).returning(table.c.points)
    return (await session.execute(statement)).scalar_one_or_none()


async def current(session: AsyncSession, table: Table, key: dict[str, Any]) -> int:
    query = table.select().with_only_columns(table.c.points)
    for column, value in key.items():
        query = query.where(table.c[column] == value)
    return (await session.execute(query)).scalar_one_or_none() or 0


def cap_key(resident_id: uuid.UUID, behaviour_code: str, period: str) -> dict[str, Any]:
    return {"resident_id": resident_id, "behaviour_code": behaviour_code, "period": period}


def budget_key(staff_id: uuid.UUID, day: date) -> dict[str, Any]:
    return {"staff_id": staff_id, "spent_on": day}


async def give_back(session: AsyncSession, table: Table, key: dict[str, Any], points: int) -> None:
    """Lower a counter (a rejected or reversed award), never below zero."""
    query = update(table).values(points=table.c.points - points)
    for column, value in key.items():
        query = query.where(table.c[column] == value)
    await session.execute(query.where(table.c.points >= points))
