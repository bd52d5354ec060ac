"""Caps per resident and behaviour, and each staff member's daily award budget.

Taken inside the award's transaction, before any points move: a refusal rolls everything back.
Given back when an approver rejects an award or reverses one, so the room can be used again."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import get_settings
from points import calendar
from points.errors import BudgetExhausted, CapReached
from points.models import Behaviour
from points.repository import limits as repo


def caps_of(behaviour: Behaviour) -> dict[str, int]:
    """The behaviour's caps that are set, by period name."""
    caps = {
        "day": behaviour.cap_day,
        "week": behaviour.cap_week,
        "month": behaviour.cap_month,
        "year": behaviour.cap_year,
    }
    return {period: cap for period, cap in caps.items() if cap is not None}


async def take_caps(
    session: AsyncSession,
    *,
    behaviour: Behaviour,
    resident_id: uuid.UUID,
    occurred_at: datetime,
    points: int,
) -> None:
    """Count `points` against every cap of the behaviour; CapReached if one would be passed."""
    keys = calendar.periods(occurred_at)
    for period, cap in caps_of(behaviour).items():
        key = repo.cap_key(resident_id, behaviour.code, keys[period])
        if await repo.raise_within(session, repo.cap_t, key, points, cap) is None:
            used = await repo.current(session, repo.cap_t, key)
            raise CapReached(
                f"{points} points would pass this behaviour's {period} cap of {cap} "
                f"({used} used, {max(cap - used, 0)} left).",
                period=period,
                cap=cap,
                used=used,
                remaining=max(cap - used, 0),
            )


async def give_back_caps(
    session: AsyncSession,
    *,
    behaviour: Behaviour,
    resident_id: uuid.UUID,
    occurred_at: datetime,
    points: int,
) -> None:
    keys = calendar.periods(occurred_at)
    for period in caps_of(behaviour):
        key = repo.cap_key(resident_id, behaviour.code, keys[period])
        await repo.give_back(session, repo.cap_t, key, points)


async def take_budget(
    session: AsyncSession, *, staff_id: uuid.UUID, at: datetime, points: int
) -> None:
    """Count `points` against the staff member's budget for the local day of `at`."""
    budget = get_settings().points_staff_daily_budget
    key = repo.budget_key(staff_id, calendar.local_date(at))
    if await repo.raise_within(session, repo.budget_t, key, points, budget) is None:
        used = await repo.current(session, repo.budget_t, key)
        raise BudgetExhausted(
            f"{points} points would pass your daily budget of {budget} "
            f"({used} used, {max(budget - used, 0)} left).",
            budget=budget,
            used=used,
            remaining=max(budget - used, 0),
        )


async def give_back_budget(
    session: AsyncSession, *, staff_id: uuid.UUID, at: datetime, points: int
) -> None:
    key = repo.budget_key(staff_id, calendar.local_date(at))
    await repo.give_back(session, repo.budget_t, key, points)
