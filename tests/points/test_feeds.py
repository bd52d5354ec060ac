"""Feed imports through the service: idempotent per record, row errors that never stop the batch,
caps shared with staff awards, hostile input, and concurrent imports racing staff awards."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import ledger
import notifications
import points
from core import clock
from identity import residents
from ledger.service.accounts import forget_cached_accounts
from points.errors import CapReached, InvalidFeedBatch, UnknownFeedSource
from points.models import Award
from points.schemas.awards import StaffActor
from points.schemas.feeds import FeedFormat, FeedRow, FeedRowError
from points.service import awards, feed_parsing, feeds
from points.service.awards import Claim

NOW = datetime.fromisoformat("2026-12-01T10:00:00+08:00")
TODAY = "2026-12-01T09:00:00+08:00"
YESTERDAY = "2026-11-30T09:00:00+08:00"


def units_of(session):
    """Units of work that all run in the test's rolled-back session."""

    @asynccontextmanager
    async def unit() -> AsyncIterator:
        yield session

    return unit


def record(record_id: str, resident: uuid.UUID | None, **fields) -> dict:
    return {
        "record_id": record_id,
        "resident": str(resident) if resident else None,
        "behaviour": "garbage-sorting",
        "quantity": "1",
        "occurred_at": TODAY,
        "community": "songling",
        **fields,
    }


def jsonl(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def rows_of(data: bytes, fmt: FeedFormat = FeedFormat.JSONL) -> list[FeedRow | FeedRowError]:
    return list(feed_parsing.parse(io.BytesIO(data), fmt))


async def run(session, data: bytes, *, source="garbage-sorting", fmt=FeedFormat.JSONL, **kw):
    # One worker: every unit of work here is the same session, which cannot run two at once.
    return await feeds.import_feed(
        units_of(session), source=source, rows=rows_of(data, fmt), workers=1, **kw
    )


async def publish(session) -> None:
    text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    await points.publish_behaviours(session, document=text, published_by="test")


async def resident(session, phone: str) -> uuid.UUID:
    found, _ = await residents.find_or_create_by_phone(session, phone=phone)
    return found.id


async def balance(session, resident_id: uuid.UUID) -> int:
    return (await ledger.get_account(session, code=f"resident:{resident_id}")).balance or 0


@pytest.fixture(autouse=True)
def frozen_now():
    with clock.frozen(NOW):
        yield


@pytest.fixture(autouse=True)
def _forget_accounts():
    # SQLAlchemy fires after_commit when a savepoint is released too, so the ledger's cache of
    # committed accounts learns the accounts of this rolled-back test: forget them.
    forget_cached_accounts()
    yield
    forget_cached_accounts()


@pytest.fixture
async def two(session) -> tuple[uuid.UUID, uuid.UUID]:
    await publish(session)
    return await resident(session, "13800000001"), await resident(session, "13800000002")


# --- importing --------------------------------------------------------------------------------


async def test_a_batch_awards_each_record_once(session, two) -> None:
    first, second = two
    data = jsonl(
        record("bin-1", first),
        record("bin-2", second),
        record("kg-1", first, behaviour="recyclables-exchange", quantity="2.5"),
    )

    report = await run(session, data)
    again = await run(session, data)

    assert (report.rows, report.imported, report.duplicates, report.failed) == (3, 3, 0, 0)
    assert report.points == 2 + 2 + 7  # 2.5 kg at 3 points a kg, rounded down
    assert (again.imported, again.duplicates, again.failed, again.points) == (0, 3, 0, 0)
    assert await balance(session, first) == 9
    assert await balance(session, second) == 2
    sent = await notifications.pending(session, topic="points.awarded")
    assert sorted(m.payload["points"] for m in sent) == [2, 2, 7]
    awarded = (await session.execute(select(Award).order_by(Award.idempotency_key))).scalars()
    rows = list(awarded)
    assert [a.idempotency_key for a in rows] == ["bin-1", "bin-2", "kg-1"]
    assert {a.issued_by for a in rows} == {"feed:garbage-sorting"}
    assert all(a.entry_id is not None and a.staff_id is None for a in rows)
    assert (await ledger.verify(session)).ok


async def test_a_record_id_reused_with_other_content_is_a_row_error(session, two) -> None:
    first, _ = two
    await run(session, jsonl(record("bin-1", first)))

    report = await run(session, jsonl(record("bin-1", first, occurred_at=YESTERDAY)))

    assert (report.imported, report.duplicates, report.failed) == (0, 0, 1)
    assert report.errors[0].reason == "idempotency-key-reused"
    assert report.errors[0].record_id == "bin-1"


async def test_failing_rows_are_reported_and_never_stop_the_batch(session, two) -> None:
    first, _ = two
    future = (NOW + timedelta(hours=1)).isoformat()
    data = b"\n".join(
        [
            json.dumps(record("ok-1", first)).encode(),
            json.dumps(record("unknown", first, behaviour="space-travel")).encode(),
            json.dumps(record("staff-only", first, behaviour="tree-planting")).encode(),
            json.dumps(record("bike", first, behaviour="public-bike-trip")).encode(),
            json.dumps(record("nobody", uuid.uuid4())).encode(),
            b"{not json",
            json.dumps(record("half", first, quantity="1.5")).encode(),
            json.dumps(record("later", first, occurred_at=future)).encode(),
            json.dumps(record("old", first, occurred_at="2026-08-01T09:00:00+08:00")).encode(),
            json.dumps(record("naive", first, occurred_at="2026-12-01T09:00:00")).encode(),
            json.dumps(record("neither", None)).encode(),
            json.dumps(record("ok-2", first, occurred_at=YESTERDAY)).encode(),
        ]
    )

    report = await run(session, data)

    reasons = {(e.line, e.record_id, e.reason) for e in report.errors}
    assert reasons == {
        (2, "unknown", "unknown-behaviour"),
        (3, "staff-only", "not-certifier"),
        (4, "bike", "not-certifier"),
        (5, "nobody", "unknown-resident"),
        (6, None, "invalid-row"),
        (7, "half", "invalid-award"),
        (8, "later", "invalid-row"),
        (9, "old", "invalid-row"),
        (10, "naive", "invalid-row"),
        (11, "neither", "invalid-row"),
    }
    assert (report.rows, report.imported, report.failed) == (12, 2, 10)
    assert all(e.message for e in report.errors)
    assert await balance(session, first) == 4


async def test_a_resident_is_found_by_phone_which_is_never_echoed(session, two) -> None:
    first, _ = two
    data = jsonl(
        {**record("p-1", None), "phone": "+86 138-0000-0001"},
        {**record("p-2", None), "phone": "13900000009"},
        {**record("p-3", None), "phone": "12345"},
        {**record("p-4", first), "phone": "13800000002"},  # names two different residents
    )

    report = await run(session, data)

    assert report.imported == 1
    assert [(e.record_id, e.reason) for e in report.errors] == [
        ("p-2", "unknown-resident"),
        ("p-3", "invalid-row"),
        ("p-4", "unknown-resident"),
    ]
    assert "1390000" not in report.model_dump_json()
    assert await balance(session, first) == 2


@pytest.mark.parametrize("path", ["bulk", "counters-moved", "row-by-row"])
async def test_caps_count_by_occurred_at_on_the_counters_staff_awards_use(
    session, two, monkeypatch, path
) -> None:
    first, second = two
    if path == "counters-moved":
        # The counters are read before a staff award commits: the bulk take finds less room
        # than it expected, rolls back and takes again on fresh counters.
        read = feeds.repo.cap_usage
        calls: list[int] = []

        async def stale_once(session_, keys):
            calls.append(1)
            return {} if len(calls) == 1 else await read(session_, keys)

        monkeypatch.setattr(feeds.repo, "cap_usage", stale_once)
    if path == "row-by-row":
        monkeypatch.setattr(feeds, "_CAP_PASSES", 0)
    behaviour = await awards.current_behaviour(session, "garbage-sorting", at=clock.now())
    # A staff award (say, counted by hand) already used half of the second resident's day.
    await points_limits_take(session, behaviour, second, 2)
    data = jsonl(
        record("a", first),
        record("b", first),
        record("c", first),  # 6 points would pass the day cap of 4
        record("d", first, occurred_at=YESTERDAY),
        record("e", second),
        record("f", second),
    )

    report = await run(session, data)

    assert report.imported == 4
    assert [(e.record_id, e.reason) for e in report.errors] == [
        ("c", "cap-reached"),
        ("f", "cap-reached"),
    ]
    assert "day cap of 4" in report.errors[0].message
    with pytest.raises(CapReached):
        await points_limits_take(session, behaviour, first, 2)


async def points_limits_take(session, behaviour, resident_id, points_: int) -> None:
    from points.service import limits

    await limits.take_caps(
        session,
        behaviour=behaviour,
        resident_id=resident_id,
        occurred_at=datetime.fromisoformat(TODAY),
        points=points_,
    )


async def test_a_csv_batch_with_a_header(session, two) -> None:
    first, second = two
    data = (
        "\ufeffRecord_ID,resident,behaviour,quantity,occurred_at,community,machine\r\n"
        f"c-1,{first},garbage-sorting,1,{TODAY},songling,M-17\r\n"
        f'"c-2",{second},recyclables-exchange,"3.2",{TODAY},songling,M-17\r\n'
        "\r\n"
        f'=HYPERLINK("x"),{first},garbage-sorting,1,{TODAY},=cmd|calc,M-17\r\n'
        f"c-4,{first},garbage-sorting,1\r\n"
    ).encode()

    report = await run(session, data, fmt=FeedFormat.CSV)

    assert (report.rows, report.imported, report.failed) == (4, 2, 2)
    assert report.points == 2 + 9
    assert [(e.line, e.reason) for e in report.errors] == [(5, "invalid-row"), (6, "invalid-row")]


async def test_a_csv_batch_without_its_header_is_refused_whole(session, two) -> None:
    first, _ = two
    data = f"c-1,{first},garbage-sorting,1,{TODAY},songling\n".encode()

    with pytest.raises(InvalidFeedBatch):
        await run(session, data, fmt=FeedFormat.CSV)


async def test_a_source_that_certifies_nothing_is_refused(session, two) -> None:
    with pytest.raises(UnknownFeedSource):
        await run(session, jsonl(record("x", two[0])), source="weather-station")


async def test_chunks_and_a_record_repeated_in_the_file(session, two) -> None:
    first, second = two
    data = jsonl(
        record("r-1", first),
        record("r-1", first),  # the same record sent twice: a duplicate, not an error
        record("r-2", second),
        record("r-1", first, quantity="2"),  # the same id, other content
        record("r-3", second),
    )
    done: list[int] = []

    report = await run(session, data, chunk_rows=2, progress=done.append)

    assert (report.imported, report.duplicates, report.failed) == (3, 1, 1)
    assert report.errors[0].reason == "idempotency-key-reused"
    assert done[-1] == 5
    assert done == sorted(done)


async def test_points_that_would_already_have_lapsed_are_refused(
    session, two, settings, monkeypatch
):
    monkeypatch.setattr(settings, "points_expiry_policy", "days:30")

    report = await run(
        session,
        jsonl(
            record("old", two[0], occurred_at="2026-10-15T09:00:00+08:00"),
            record("new", two[0]),
        ),
    )

    assert report.imported == 1
    assert report.errors[0].record_id == "old"
    assert "lapsed" in report.errors[0].message


# --- hostile input ----------------------------------------------------------------------------


def test_hostile_lines_become_row_errors() -> None:
    data = b"\n".join(
        [
            b"\x00\x01\x02\xff\xfe binary",
            b"\xc3\x28 bad utf-8",
            b"[1, 2, 3]",
            b"[" * 3000 + b"]" * 3000,
            b'{"record_id": ' + b"9" * 5000 + b"}",
            b'{"record_id": "\\u0000nul", "quantity": 1e999}',
            b"x" * (10 * 1024 * 1024),
            b'{"record_id": "tail"}',
        ]
    )

    rows = rows_of(data)

    assert all(isinstance(row, FeedRowError) for row in rows)
    assert [row.line for row in rows] == list(range(1, 9))
    assert {row.reason for row in rows} == {"invalid-row"}
    assert "longer than" in rows[6].message
    assert rows[7].record_id == "tail"


@given(st.binary(max_size=600), st.sampled_from(list(FeedFormat)))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_bytes_parse_into_rows_or_a_refusal(data: bytes, fmt: FeedFormat) -> None:
    try:
        rows = rows_of(data, fmt)
    except InvalidFeedBatch:
        assert fmt is FeedFormat.CSV
        return
    for row in rows:
        assert isinstance(row, FeedRow | FeedRowError)


def test_a_record_parses_into_a_row_with_the_phone_replaced_by_its_index() -> None:
    [row] = rows_of(jsonl({**record("p", None), "phone": "13800000001", "quantity": 2.5}))

    assert isinstance(row, FeedRow)
    assert row.phone_index
    assert "13800000001" not in row.phone_index
    assert row.quantity == Decimal("2.5")
    assert row.occurred_at.utcoffset() == timedelta(0)


# --- concurrency ------------------------------------------------------------------------------


async def test_concurrent_imports_and_staff_awards_never_pass_a_cap(committed_db) -> None:
    async with committed_db.unit_of_work() as session:
        await publish(session)
        people = [await resident(session, f"1380000{i:04d}") for i in range(6)]
        behaviour = await awards.current_behaviour(session, "garbage-sorting", at=clock.now())
    # Three records a day per resident on two days: 6 points a day against a cap of 4.
    data = jsonl(
        *(
            record(f"{day}-{n}-{i}", person, occurred_at=when)
            for i, person in enumerate(people)
            for day, when in (("d1", TODAY), ("d0", YESTERDAY))
            for n in range(3)
        )
    )
    staff = StaffActor(id=uuid.uuid4(), roles=frozenset())

    async def staff_award(person: uuid.UUID, n: int) -> None:
        claim = Claim(
            issued_by=staff.issued_by,
            key=f"staff-{person}-{n}",
            request_hash="x",
            resident_id=person,
            staff_id=staff.id,
            behaviour=behaviour,
            community="songling",
            quantity_milli=1000,
            evidence=None,
            earn_code_id=None,
            occurred_at=clock.now(),
        )
        try:
            async with committed_db.unit_of_work() as session:
                await awards.make(session, claim, needs_approval=False)
        except CapReached:
            pass

    imports = [
        feeds.import_feed(
            committed_db.unit_of_work, source="garbage-sorting", rows=rows_of(data), chunk_rows=5
        )
        for _ in range(2)
    ]
    races = [staff_award(person, n) for person in people for n in range(2)]
    results = await asyncio.gather(*imports, *races)
    one, two = results[0], results[1]

    async with committed_db.unit_of_work() as session:
        feed_awards = (
            await session.execute(
                select(Award.idempotency_key, func.count())
                .where(Award.issued_by == "feed:garbage-sorting")
                .group_by(Award.idempotency_key)
            )
        ).all()
        per_day = (
            await session.execute(
                select(Award.resident_id, Award.occurred_at, Award.points).where(
                    Award.behaviour_code == "garbage-sorting"
                )
            )
        ).all()
        verified = await ledger.verify(session)
        balances = {p: await balance(session, p) for p in people}
    assert all(count == 1 for _, count in feed_awards)
    assert one.imported + two.imported == len(feed_awards)
    # A record one import found capped may be awarded by the other (once the staff award that
    # took the room lost its own race): then it is no duplicate anywhere.
    assert one.duplicates + two.duplicates <= len(feed_awards)
    days: dict[tuple[uuid.UUID, str], int] = {}
    for resident_id, occurred_at, points_ in per_day:
        key = (resident_id, occurred_at.astimezone(NOW.tzinfo).date().isoformat())
        days[key] = days.get(key, 0) + points_
    assert days
    assert max(days.values()) <= 4
    assert all(balances[p] == sum(v for (r, _), v in days.items() if r == p) for p in people)
    assert verified.ok, verified
