"""The behaviour list: publishing versions from YAML, validation, and reading the current list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import points
from core import clock
from points.models import Behaviour, BehaviourVersion


def behaviour_yaml(code: str = "garbage-sorting", **fields: str) -> str:
    """One behaviour as a YAML list item; `fields` replace or add top-level keys (YAML text)."""
    values = {
        "code": code,
        "category": "green",
        "title": "{zh: 垃圾分类, en: Garbage sorting}",
        "description": "{zh: 正确分类投放, en: Sorted correctly}",
        "points_per_unit": "2",
        "unit": "time",
        "caps": "{day: 4, month: 100}",
        "certified_by": "feed:garbage-sorting",
    } | fields
    lines = [f"{key}: {value}" for key, value in values.items()]
    return "  - " + "\n    ".join(lines) + "\n"


def document(*items: str, notes: str = "test list") -> str:
    return f"notes: {notes}\nbehaviours:\n" + "".join(items or (behaviour_yaml(),))


async def publish(session: AsyncSession, text: str) -> points.VersionOut:
    return await points.publish_behaviours(session, document=text, published_by="test")


async def problems(session: AsyncSession, text: str) -> list[dict[str, str]]:
    with pytest.raises(points.InvalidBehaviourList) as caught:
        await publish(session, text)
    assert caught.value.status == 422
    assert caught.value.extensions["errors"] == caught.value.errors
    return caught.value.errors


async def test_publish_stores_a_version_and_its_behaviours(session: AsyncSession) -> None:
    with clock.frozen(datetime(2026, 11, 24, 12, tzinfo=UTC)):
        version = await publish(session, document(behaviour_yaml(), behaviour_yaml("bike-trip")))
    listing = await points.current_behaviours(session)

    assert version.number == 1
    assert version.behaviour_count == 2
    assert version.published_at == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert (version.published_by, version.notes) == ("test", "test list")
    assert listing.version == 1
    sorting = listing.behaviours[0]
    assert [b.code for b in listing.behaviours] == ["garbage-sorting", "bike-trip"]
    assert (sorting.title.zh, sorting.title.en) == ("垃圾分类", "Garbage sorting")
    assert (sorting.unit, sorting.unit_label.zh, sorting.unit_label.en) == ("time", "次", "time")
    assert sorting.caps.model_dump() == {"day": 4, "week": None, "month": 100, "year": None}
    assert sorting.certified_by == "feed:garbage-sorting"
    assert sorting.evidence_required is False


async def test_a_new_document_is_the_next_version_and_old_ones_stay(
    session: AsyncSession,
) -> None:
    first = await publish(session, document(notes="first"))
    second = await publish(session, document(behaviour_yaml("bike-trip"), notes="second"))

    assert (first.number, second.number) == (1, 2)
    assert [b.code for b in (await points.current_behaviours(session)).behaviours] == ["bike-trip"]
    assert (await points.get_version(session, 1)).notes == "first"
    old = await points.find_behaviour(session, code="garbage-sorting", version_id=first.id)
    assert old.version_id == first.id
    with pytest.raises(points.UnknownBehaviour):
        await points.find_behaviour(session, code="garbage-sorting")
    assert (await points.find_behaviour(session, code="bike-trip")).version_id == second.id
    with pytest.raises(points.UnknownBehaviourVersion):
        await points.get_version(session, 3)


async def test_republishing_the_current_document_changes_nothing(session: AsyncSession) -> None:
    text = document()
    first = await publish(session, text)
    again = await publish(session, text)
    versions = await session.scalar(select(func.count()).select_from(BehaviourVersion))
    rows = await session.scalar(select(func.count()).select_from(Behaviour))

    assert again == first
    assert (versions, rows) == (1, 1)


async def test_an_older_document_again_is_a_new_version(session: AsyncSession) -> None:
    await publish(session, document(notes="a"))
    await publish(session, document(notes="b"))

    assert (await publish(session, document(notes="a"))).number == 3


async def test_nothing_published_yet(session: AsyncSession) -> None:
    with pytest.raises(points.NoBehaviourList) as caught:
        await points.current_behaviours(session)
    assert caught.value.status == 404
    assert await points.current_version(session) is None
    with pytest.raises(points.NoBehaviourList):
        await points.find_behaviour(session, code="garbage-sorting")


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"code": "Garbage_Sorting"}, "behaviours[0].code", "should match pattern"),
        ({"code": "x"}, "behaviours[0].code", "should match pattern"),
        ({"category": "blue"}, "behaviours[0].category", "'green', 'volunteer' or"),
        ({"title": "{zh: 垃圾分类}"}, "behaviours[0].title.en", "Field required"),
        ({"description": "{zh: '', en: x}"}, "behaviours[0].description.zh", "at least 1"),
        ({"points_per_unit": "0"}, "behaviours[0].points_per_unit", "greater than 0"),
        ({"points_per_unit": "'2'"}, "behaviours[0].points_per_unit", "valid integer"),
        ({"points_per_unit": "1.5"}, "behaviours[0].points_per_unit", "valid integer"),
        ({"unit": "次"}, "behaviours[0].unit", "'time', 'hour' or 'kg'"),
        ({"caps": "{day: 10, week: 5}"}, "behaviours[0].caps", "week cap (5) is below the day"),
        ({"caps": "{day: 10, year: 9}"}, "behaviours[0].caps", "year cap (9) is below the day"),
        ({"caps": "{day: 0}"}, "behaviours[0].caps.day", "greater than 0"),
        ({"caps": "{hour: 1}"}, "behaviours[0].caps.hour", "Extra inputs"),
        ({"certified_by": "mayor"}, "behaviours[0].certified_by", "must be a staff role"),
        ({"certified_by": "'feed:'"}, "behaviours[0].certified_by", "must be a staff role"),
        ({"evidence_required": "'yes'"}, "behaviours[0].evidence_required", "valid boolean"),
        ({"active_from": "2026-01-01T00:00:00"}, "behaviours[0].active_from", "timezone"),
        ({"active_until": "9999-12-31T23:59:59-14:00"}, "behaviours[0].active_until", "in UTC"),
        ({"bonus": "3"}, "behaviours[0].bonus", "Extra inputs"),
        (
            {"active_from": "2026-02-01T00:00:00+08:00", "active_until": "2026-01-01T00:00:00Z"},
            "behaviours[0]",
            "active_until must be later than active_from",
        ),
    ],
)
async def test_each_kind_of_problem_is_reported_with_its_path(
    session: AsyncSession, fields: dict[str, str], path: str, message: str
) -> None:
    (problem,) = await problems(session, document(behaviour_yaml(**fields)))

    assert problem["path"] == path
    assert message in problem["message"]
    assert await points.current_version(session) is None


async def test_every_problem_is_listed_at_once(session: AsyncSession) -> None:
    text = "extra: 1\n" + document(
        behaviour_yaml(category="blue"),
        behaviour_yaml("twice", unit="litre"),
        behaviour_yaml("twice"),
    )

    found = await problems(session, text)

    assert [p["path"] for p in found] == [
        "behaviours[0].category",
        "behaviours[1].unit",
        "extra",
        "behaviours[1].code",
        "behaviours[2].code",
    ]
    assert "'twice' is used more than once" in found[-1]["message"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("behaviours: [", "line 1, column 14"),
        ("- a list", "(document)"),
        ("", "(document)"),
        ("notes: empty\nbehaviours: []", "behaviours"),
    ],
)
async def test_documents_that_are_not_lists_of_behaviours(
    session: AsyncSession, text: str, path: str
) -> None:
    (problem,) = await problems(session, text)

    assert problem["path"] == path


async def test_active_window_at_a_frozen_time(session: AsyncSession) -> None:
    await publish(
        session,
        document(
            behaviour_yaml("always"),
            behaviour_yaml("spring", active_from="2026-03-01T00:00:00+08:00"),
            behaviour_yaml("summer-only", active_until="2026-09-01T00:00:00+08:00"),
        ),
    )

    async def active(at: datetime) -> list[str]:
        return [b.code for b in (await points.current_behaviours(session, at=at)).behaviours]

    # 2026-03-01 00:00 in Wujiang is 2026-02-28 16:00 UTC; the window's end is exclusive.
    assert await active(datetime(2026, 2, 28, 15, 59, tzinfo=UTC)) == ["always", "summer-only"]
    assert await active(datetime(2026, 2, 28, 16, tzinfo=UTC)) == [
        "always",
        "spring",
        "summer-only",
    ]
    with clock.frozen(datetime(2026, 8, 31, 16, tzinfo=UTC)):
        assert await active(clock.now()) == ["always", "spring"]
        assert [b.code for b in (await points.current_behaviours(session)).behaviours] == [
            "always",
            "spring",
        ]
    summer = await points.find_behaviour(session, code="summer-only")
    assert summer.is_active(datetime(2026, 8, 31, 15, 59, tzinfo=UTC))
    assert not summer.is_active(datetime(2026, 8, 31, 16, tzinfo=UTC))


async def test_category_filter(session: AsyncSession) -> None:
    await publish(session, document(behaviour_yaml(), behaviour_yaml("help", category="volunteer")))

    listing = await points.current_behaviours(session, category="volunteer")

    assert [b.code for b in listing.behaviours] == ["help"]


async def test_the_default_list_parses_and_publishes(session: AsyncSession) -> None:
    text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    parsed = points.parse_behaviour_list(text)
    with clock.frozen(datetime(2026, 11, 24, tzinfo=UTC)):
        version = await publish(session, text)
        listing = await points.current_behaviours(session)

    codes = {b.code for b in listing.behaviours}
    assert version.behaviour_count == len(parsed.behaviours) >= 15
    assert {b.category for b in listing.behaviours} == {"green", "volunteer", "cogovernance"}
    assert {b.unit for b in listing.behaviours} == {"time", "hour", "kg"}
    assert {
        "garbage-sorting",
        "recyclables-exchange",
        "public-bike-trip",
        "volunteer-service",
        "blood-donation",
        "city-problem-report",
        "hotline-suggestion-adopted",
        "community-consultation",
    } <= codes
    blood = await points.find_behaviour(session, code="blood-donation")
    assert blood.evidence_required
    assert blood.caps.year is not None
    recyclables = await points.find_behaviour(session, code="recyclables-exchange")
    assert (recyclables.unit_label.zh, recyclables.certified_by) == ("公斤", "feed:garbage-sorting")


async def test_concurrent_publishers_each_get_their_own_version(committed_db) -> None:
    async def publish_alone(notes: str) -> int:
        async with committed_db.unit_of_work() as s:
            return (await publish(s, document(notes=notes))).number

    numbers = await asyncio.gather(*(publish_alone(f"list {i}") for i in range(4)))

    assert sorted(numbers) == [1, 2, 3, 4]
