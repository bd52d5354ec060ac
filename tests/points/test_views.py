"""Residents' views at the service level: balances by category, expiring soon, the history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from core.pagination import InvalidCursor
from points.errors import InvalidPointsQuery
from points.models import RedemptionStatus
from points.service import views
from tests.points.factories import make_award, make_redemption, make_reward, reverse_award

NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)  # 12:00 in Wujiang


async def test_a_resident_without_a_wallet_sees_zeros(session: AsyncSession) -> None:
    summary = await views.points_summary(session, resident_id=new_id())
    page = await views.points_history(session, resident_id=new_id())

    assert (summary.total, summary.available, summary.held) == (0, 0, 0)
    assert summary.expiring_within_30_days.earliest_at is None
    assert (page.items, page.next_cursor) == ([], None)


async def test_categories_sum_to_available_after_spending_and_holding(
    session: AsyncSession,
) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        await make_award(session, resident, points_=40, expires_at=NOV + timedelta(days=10))
        await make_award(session, resident, behaviour="volunteer-service", points_=50)
        await make_award(
            session,
            resident,
            behaviour="city-problem-report",
            points_=5,
            expires_at=NOV + timedelta(days=20),
        )
        dear, cheap = (
            await make_reward(session, points_cost=30),
            await make_reward(session, points_cost=5),
        )
        await make_redemption(session, resident, dear)  # 30 of the soonest lot: green
        await make_redemption(session, resident, cheap, status=RedemptionStatus.ISSUED)
        # Held then given back: the points return into the very lots they left.
        await make_redemption(session, resident, dear, status=RedemptionStatus.CANCELLED)
        summary = await views.points_summary(session, resident_id=resident)

    by = summary.by_category
    assert (by.green, by.volunteer, by.cogovernance, by.other) == (5, 50, 5, 0)
    assert summary.available == 95 - 30 - 5 == by.green + by.volunteer + by.cogovernance
    assert (summary.held, summary.total) == (5, 65)
    assert summary.expiring_within_30_days.points == 10
    assert summary.expiring_within_30_days.earliest_at == NOV + timedelta(days=10)


async def test_expired_but_unswept_points_are_not_available(session: AsyncSession) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        await make_award(session, resident, points_=7, expires_at=NOV + timedelta(days=1))
        await make_award(session, resident, behaviour="volunteer-service", points_=3)
    with clock.frozen(NOV + timedelta(days=2)):
        summary = await views.points_summary(session, resident_id=resident)

    assert (summary.available, summary.by_category.green, summary.by_category.volunteer) == (
        3,
        0,
        3,
    )
    assert summary.expiring_within_30_days.points == 0


async def test_history_kinds_categories_and_titles(session: AsyncSession) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        green = await make_award(session, resident, points_=40)
        await make_award(session, resident, behaviour="volunteer-service", points_=20)
        await reverse_award(session, green, 5)
        reward = await make_reward(session, points_cost=30)
        await make_redemption(session, resident, reward, status=RedemptionStatus.CANCELLED)
        page = await views.points_history(session, resident_id=resident)

    kinds = [(i.kind, i.points, i.balance_after, i.category) for i in page.items]
    assert kinds == [
        ("refund", 30, 55, None),
        ("redemption", -30, 25, None),
        ("reversal", -5, 55, "green"),
        ("award", 20, 60, "volunteer"),
        ("award", 40, 40, "green"),
    ]
    assert page.items[0].reward is not None
    assert page.items[0].reward.title.zh == "环保袋"
    assert page.items[1].reward == page.items[0].reward
    award = page.items[-1]
    assert award.behaviour is not None
    assert (award.behaviour.code, award.behaviour.title.en) == (
        "garbage-sorting",
        "Correct garbage sorting",
    )


async def test_history_filters(session: AsyncSession) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        green = await make_award(session, resident, points_=40)
    with clock.frozen(NOV + timedelta(days=1)):
        await make_award(session, resident, behaviour="volunteer-service", points_=20)
        await reverse_award(session, green, 5)

    async def history(**filters: Any) -> list[tuple[str, int]]:
        page = await views.points_history(
            session, resident_id=resident, filters=views.history_filters(**filters)
        )
        return [(i.kind, i.points) for i in page.items]

    assert await history(category="green") == [("reversal", -5), ("award", 40)]
    assert await history(kind="award") == [("award", 20), ("award", 40)]
    assert await history(kind="reversal") == [("reversal", -5)]
    assert await history(kind="expiry") == []
    assert await history(date_to=date(2026, 11, 10)) == [("award", 40)]
    assert await history(date_from=date(2026, 11, 11), category="volunteer") == [("award", 20)]
    with pytest.raises(InvalidPointsQuery):
        views.history_filters(date_from=date(2026, 11, 11), date_to=date(2026, 11, 10))


async def test_local_days_bound_the_date_filter(session: AsyncSession) -> None:
    resident = new_id()
    # 23:30 UTC on 10 November is 07:30 on 11 November in Wujiang.
    with clock.frozen(datetime(2026, 11, 10, 23, 30, tzinfo=UTC)):
        await make_award(session, resident)
    page = await views.points_history(
        session,
        resident_id=resident,
        filters=views.history_filters(date_from=date(2026, 11, 11), date_to=date(2026, 11, 11)),
    )
    assert len(page.items) == 1


async def test_history_pages_without_gaps_or_repeats(session: AsyncSession) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        for n in range(1, 8):
            await make_award(session, resident, points_=n)
    seen: list[int] = []
    cursor = None
    while True:
        page = await views.points_history(session, resident_id=resident, cursor=cursor, limit=3)
        seen += [item.points for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    "cursor",
    [
        "nope",
        "cDE",
        "h1",
        "aC0x",
        "aDE=",
        "!!!!",
        "aDE" * 9,
        "aDAx",
        "aC0xMg",
        "aDE5OTk5OTk5OTk5OTk5OTk5OTk5",
    ],
)
async def test_forged_cursors_are_refused(session: AsyncSession, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        await views.points_history(session, resident_id=new_id(), cursor=cursor)
