"""Caps and budgets count in Wujiang's calendar (Asia/Shanghai): a day starts at local midnight,
weeks are ISO weeks, months and years local. Exercised through the award service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

import points
from core import clock
from core.settings import get_settings
from identity import residents
from ledger.service.accounts import forget_cached_accounts
from points import calendar
from points.errors import BudgetExhausted, CapReached
from points.schemas.awards import AwardIn, StaffActor
from points.service import awards, limits


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A Wujiang wall-clock time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=calendar.zone()).astimezone(UTC)


@pytest.fixture(autouse=True)
def _forget_accounts():
    """A released savepoint counts as a commit to the ledger's account cache, but the test's
    transaction is rolled back: forget what it remembered."""
    yield
    forget_cached_accounts()


@pytest.fixture
async def resident_id(session, redis):
    with clock.frozen(local(2026, 11, 25, 9, 0)):
        text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
        await points.publish_behaviours(session, document=text, published_by="test")
        resident, _ = await residents.find_or_create_by_phone(session, phone="13812345678")
    return resident.id


def awarder() -> StaffActor:
    return StaffActor(id=uuid.uuid4(), roles=frozenset({("awarder", "songling")}))


async def attempt(session, resident_id, behaviour, *, at, staff=None, quantity="1"):
    """One award at `at`, in a savepoint rolled back on refusal (as the request would be)."""
    request = AwardIn(
        resident_id=resident_id,
        behaviour=behaviour,
        quantity=Decimal(quantity),
        community="songling",
    )
    with clock.frozen(at):
        async with session.begin_nested():
            return await points.award(
                session,
                request=request,
                staff=staff or awarder(),
                idempotency_key=str(uuid.uuid4()),
            )


def test_period_keys_follow_local_time() -> None:
    assert calendar.periods(local(2026, 11, 25, 23, 59)) == {
        "day": "d2026-11-25",
        "week": "w2026-48",
        "month": "m2026-11",
        "year": "y2026",
    }
    # 00:01 on the 26th in Wujiang is still the 25th in UTC.
    after_midnight = local(2026, 11, 26, 0, 1)
    assert after_midnight.date().day == 25
    assert calendar.periods(after_midnight)["day"] == "d2026-11-26"
    # 1 January 2027 is a Friday of ISO week 53 of 2026.
    assert calendar.periods(local(2027, 1, 1, 0, 1))["week"] == "w2026-53"


async def test_a_day_cap_resets_at_local_midnight(session, resident_id) -> None:
    await attempt(session, resident_id, "river-patrol", at=local(2026, 11, 25, 23, 59))
    with pytest.raises(CapReached) as refused:
        await attempt(session, resident_id, "river-patrol", at=local(2026, 11, 25, 23, 59))
    await attempt(session, resident_id, "river-patrol", at=local(2026, 11, 26, 0, 1))

    assert refused.value.extensions["period"] == "day"


async def test_a_week_cap_is_an_iso_week(session, resident_id) -> None:
    # community-consultation: 5 points, at most 10 a week and 20 a month.
    wednesday, sunday = local(2026, 11, 25, 10, 0), local(2026, 11, 29, 23, 59)
    monday = local(2026, 11, 30, 0, 1)
    for _ in range(2):
        await attempt(session, resident_id, "community-consultation", at=wednesday)
    with pytest.raises(CapReached) as late_sunday:
        await attempt(session, resident_id, "community-consultation", at=sunday)
    await attempt(session, resident_id, "community-consultation", at=monday)
    await attempt(session, resident_id, "community-consultation", at=monday)
    with pytest.raises(CapReached) as month:
        await attempt(session, resident_id, "community-consultation", at=monday)

    assert late_sunday.value.extensions["period"] == "week"
    assert month.value.extensions["period"] == "week"  # the first cap checked that is full
    assert month.value.extensions["remaining"] == 0


async def test_a_month_cap_resets_on_the_local_first(session, resident_id) -> None:
    # anti-fraud-training: 3 points, at most 6 a month.
    last_evening = local(2026, 11, 30, 23, 59)
    for _ in range(2):
        await attempt(session, resident_id, "anti-fraud-training", at=last_evening)
    with pytest.raises(CapReached) as refused:
        await attempt(session, resident_id, "anti-fraud-training", at=last_evening)
    # 00:01 on 1 December in Wujiang: still 30 November in UTC, but a new month here.
    await attempt(session, resident_id, "anti-fraud-training", at=local(2026, 12, 1, 0, 1))

    assert (refused.value.extensions["period"], refused.value.extensions["used"]) == ("month", 6)


async def test_a_year_cap_resets_on_new_year_but_the_iso_week_runs_on(session, resident_id) -> None:
    new_years_eve, new_year = local(2026, 12, 31, 23, 59), local(2027, 1, 1, 0, 1)
    for _ in range(3):
        await attempt(session, resident_id, "tree-planting", at=new_years_eve)
    with pytest.raises(CapReached) as year:
        await attempt(session, resident_id, "tree-planting", at=new_years_eve)
    await attempt(session, resident_id, "tree-planting", at=new_year)
    for _ in range(2):
        await attempt(session, resident_id, "community-consultation", at=new_years_eve)
    with pytest.raises(CapReached) as week:
        await attempt(session, resident_id, "community-consultation", at=new_year)

    assert year.value.extensions["period"] == "year"
    assert week.value.extensions["period"] == "week"


async def test_a_refused_cap_counts_nothing(session, resident_id) -> None:
    # elderly-care-visit: 10 points an hour, at most 40 a day and 400 a month.
    at = local(2026, 11, 25, 10, 0)
    await attempt(session, resident_id, "elderly-care-visit", at=at, quantity="3.5")
    with pytest.raises(CapReached) as refused:
        await attempt(session, resident_id, "elderly-care-visit", at=at, quantity="1")
    await attempt(session, resident_id, "elderly-care-visit", at=at, quantity="0.5")

    assert refused.value.extensions == {"period": "day", "cap": 40, "used": 35, "remaining": 5}


async def test_more_than_a_cap_in_one_award_is_refused(session, resident_id) -> None:
    with pytest.raises(CapReached) as refused:
        await attempt(session, resident_id, "elderly-care-visit", at=clock.now(), quantity="4.1")

    assert refused.value.extensions["used"] == 0


async def test_a_budget_is_per_staff_member_and_local_day(
    session, resident_id, settings, monkeypatch
) -> None:
    monkeypatch.setattr(get_settings(), "points_staff_daily_budget", 30)
    staff, colleague = awarder(), awarder()
    evening, morning = local(2026, 11, 25, 23, 59), local(2026, 11, 26, 0, 1)
    for behaviour in ["elderly-care-visit", "civilised-traffic"]:
        # 15 and 12 points
        await attempt(session, resident_id, behaviour, at=evening, staff=staff, quantity="1.5")
    with pytest.raises(BudgetExhausted) as refused:
        await attempt(session, resident_id, "civilised-traffic", at=evening, staff=staff)
    await attempt(session, resident_id, "civilised-traffic", at=evening, staff=colleague)
    await attempt(session, resident_id, "civilised-traffic", at=morning, staff=staff)

    assert refused.value.extensions == {"budget": 30, "used": 27, "remaining": 3}


async def test_giving_back_never_goes_below_zero(session, resident_id) -> None:
    at = clock.now()
    behaviour = await awards.current_behaviour(session, "river-patrol", at=at)
    await attempt(session, resident_id, "river-patrol", at=at)

    await limits.give_back_caps(
        session, behaviour=behaviour, resident_id=resident_id, occurred_at=at, points=50
    )
    with pytest.raises(CapReached):
        await attempt(session, resident_id, "river-patrol", at=at)
    await limits.give_back_caps(
        session, behaviour=behaviour, resident_id=resident_id, occurred_at=at, points=5
    )
    await attempt(session, resident_id, "river-patrol", at=at)
