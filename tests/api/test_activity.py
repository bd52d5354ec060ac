"""The digital footprint over HTTP: the resident's own trail in keyset pages, filtered by channel,
cursors that cannot be forged into a 500, and the whole trail as a streamed JSON download."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import Database
from core.ids import new_id
from identity import activity, activity_reads, sessions
from identity.clients import TV_CLIENT_ID
from identity.models import Activity
from tests.helpers import problem_of
from tests.points_actors import make_resident, make_staff

NOW = datetime(2026, 11, 25, 17, tzinfo=UTC)  # 01:00 on 26 November in Wujiang
CHANNELS = ("app", "kiosk", "tv", "hotline")
ITEM_KEYS = {"at", "channel", "device", "action", "detail"}


@pytest.fixture(autouse=True)
def still(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(NOW):
        yield


async def trail(session: AsyncSession, resident_id: uuid.UUID, n: int) -> None:
    """`n` lines, one a second, round the channels: action `step.<i>`."""
    for i in range(n):
        await activity.record(
            session,
            resident_id=resident_id,
            channel=CHANNELS[i % 4],
            device=f"device-{i % 4}",
            action=f"step.{i}",
            detail={"i": i},
        )
        clock.advance(timedelta(seconds=1))


async def pages_of(client: AsyncClient, headers: dict, **params: object) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/me/activity", params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


def steps(items: list[dict]) -> list[int]:
    return [item["detail"]["i"] for item in items]


# --- listing -----------------------------------------------------------------------------------


async def test_the_trail_comes_newest_first_in_keyset_pages(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await trail(session, resident.id, 25)

    pages = await pages_of(client, resident.headers, limit=10)

    assert [len(page) for page in pages] == [10, 10, 5]
    items = [item for page in pages for item in page]
    assert steps(items) == list(range(24, -1, -1))
    assert set(items[0]) == ITEM_KEYS
    assert items[0] == {
        "at": (NOW + timedelta(seconds=24)).isoformat().replace("+00:00", "Z"),
        "channel": "app",
        "device": "device-0",
        "action": "step.24",
        "detail": {"i": 24},
    }


async def test_a_line_recorded_while_paging_neither_repeats_nor_hides_another(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await trail(session, resident.id, 6)
    first = (
        await client.get("/v1/me/activity", params={"limit": 3}, headers=resident.headers)
    ).json()
    await activity.record(session, resident_id=resident.id, channel="tv", action="tv.home")

    rest = (
        await client.get(
            "/v1/me/activity",
            params={"limit": 3, "cursor": first["next_cursor"]},
            headers=resident.headers,
        )
    ).json()

    assert steps(first["items"]) + steps(rest["items"]) == [5, 4, 3, 2, 1, 0]
    assert rest["next_cursor"] is None


async def test_the_trail_filters_by_channel(client: AsyncClient, session: AsyncSession) -> None:
    resident = await make_resident(session)
    await trail(session, resident.id, 20)

    kiosk = await pages_of(client, resident.headers, channel="kiosk", limit=2)
    nowhere = await pages_of(client, resident.headers, channel="fax")

    assert steps([item for page in kiosk for item in page]) == [17, 13, 9, 5, 1]
    assert [len(page) for page in kiosk] == [2, 2, 1]
    assert {item["channel"] for page in kiosk for item in page} == {"kiosk"}
    assert nowhere == [[]]


async def test_each_resident_sees_only_their_own_trail(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    await trail(session, resident.id, 3)
    await trail(session, other.id, 2)

    mine = (await client.get("/v1/me/activity", headers=resident.headers)).json()
    theirs = (await client.get("/v1/me/activity", headers=other.headers)).json()

    assert steps(mine["items"]) == [2, 1, 0]
    assert steps(theirs["items"]) == [1, 0]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Fixed, not random: xdist workers must collect the same parameters.
SOME_ID = uuid.UUID("01a210dd-7fca-7000-89c2-3b97e39057e6")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        _b64(b"a" + b"z" * 32),  # not hex
        _b64(b"i" + SOME_ID.hex.encode()),  # an inbox cursor, not ours
        _b64(b"a" + SOME_ID.hex.encode()) + "==",  # another spelling of a real position
        _b64(b"a" + SOME_ID.hex.upper().encode()),
        _b64(b"a{" + SOME_ID.hex[:30].encode() + b"}"),
        _b64("a€".encode() + b"0" * 30),
        _b64(b"\xff" * 33),
    ],
)
async def test_a_tampered_cursor_is_a_400_problem_never_a_500(
    client: AsyncClient, session: AsyncSession, cursor: str
) -> None:
    resident = await make_resident(session)

    response = await client.get(
        "/v1/me/activity", params={"cursor": cursor}, headers=resident.headers
    )

    assert response.status_code == 400
    assert problem_of(response)["type"].endswith("invalid-cursor")


async def test_a_forged_cursor_of_the_right_shape_pages_only_ones_own_trail(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    await trail(session, other.id, 3)
    forged = activity_reads.encode_cursor(uuid.UUID(int=(1 << 128) - 1))

    response = await client.get(
        "/v1/me/activity", params={"cursor": forged}, headers=resident.headers
    )

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"channel": "TV"}, {"channel": "x" * 17}, {"cursor": "c" * 201}],
)
async def test_bad_paging_parameters_are_422(
    client: AsyncClient, session: AsyncSession, params: dict
) -> None:
    resident = await make_resident(session)

    response = await client.get("/v1/me/activity", params=params, headers=resident.headers)

    assert response.status_code == 422
    assert problem_of(response)["type"].endswith("validation-error")


# --- export ------------------------------------------------------------------------------------


async def test_the_export_is_a_json_download_of_the_whole_trail_oldest_first(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    await trail(session, resident.id, 5)
    await trail(session, other.id, 4)

    response = await client.get("/v1/me/activity/export", headers=resident.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    # Local date: at 01:00 on 26 November in Wujiang, it is still the 25th in UTC.
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="wujiang-activity-2026-11-26.json"'
    )
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["exported_at"] == (NOW + timedelta(seconds=9)).isoformat()
    lines = body["activity"]
    assert [line["action"] for line in lines] == [f"step.{i}" for i in range(5)] + [
        "activity.export"
    ]
    assert all(set(line) == ITEM_KEYS for line in lines)
    assert lines[-1]["channel"] == "app"
    text = response.text
    for personal in (str(resident.id), str(other.id), "13812345678", "13912345678"):
        assert personal not in text


async def test_the_export_streams_after_the_requests_own_transaction_has_committed(
    committed_db: Database, committed_client: AsyncClient
) -> None:
    # Real units of work: the request's transaction (recording the export) commits before the
    # response starts, and the stream reads in a session of its own until the last byte.
    async with committed_db.unit_of_work() as session:
        resident = await make_resident(session)
        await trail(session, resident.id, 3)

    response = await committed_client.get("/v1/me/activity/export", headers=resident.headers)

    assert response.status_code == 200, response.text
    actions = [line["action"] for line in response.json()["activity"]]
    assert actions == ["step.0", "step.1", "step.2", "activity.export"]


async def test_a_long_trail_is_exported_whole_in_batches(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    at = clock.now()
    rows = [
        {
            "id": new_id(),
            "resident_id": owner,
            "channel": "kiosk",
            "device": "kiosk-1",
            "action": "points.balance",
            "detail": {"n": n},
            "at": at,
        }
        for n in range(2_345)
        for owner in (resident.id, other.id)
    ]
    await session.execute(insert(Activity.__table__), rows)  # type: ignore[attr-defined]

    response = await client.get("/v1/me/activity/export", headers=resident.headers)

    lines = response.json()["activity"]
    assert len(lines) == 2_346  # and the export itself
    assert [line["detail"]["n"] for line in lines[:-1]] == list(range(2_345))


async def test_export_batches_are_keyset_pages_of_the_given_size(session: AsyncSession) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    await trail(session, resident.id, 14)
    await trail(session, other.id, 3)

    sevens = [
        [item.detail["i"] for item in batch]
        async for batch in activity_reads.export_batches(session, resident_id=resident.id, batch=7)
    ]
    fives = [
        len(batch)
        async for batch in activity_reads.export_batches(session, resident_id=resident.id, batch=5)
    ]

    assert sevens == [list(range(7)), list(range(7, 14))]
    assert fives == [5, 5, 4]


async def test_an_empty_trail_exports_as_just_the_export(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)

    body = (await client.get("/v1/me/activity/export", headers=resident.headers)).json()

    assert [line["action"] for line in body["activity"]] == ["activity.export"]


# --- who may read ------------------------------------------------------------------------------


async def test_only_the_resident_reads_their_trail(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    member = await make_staff(session, "clerk", [("counter_clerk", "*")])
    tv = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id=TV_CLIENT_ID,
        channel="tv",
        assurance="phone",
        scope="points:read",
    )
    await trail(session, resident.id, 2)

    for path in ("/v1/me/activity", "/v1/me/activity/export"):
        assert (await client.get(path)).status_code == 401
        for headers in (member.headers, {"Authorization": f"Bearer {tv.access_token}"}):
            refused = await client.get(path, headers=headers)
            assert refused.status_code == 403
            assert problem_of(refused)["type"].endswith("insufficient-scope")
    listed = (await client.get("/v1/me/activity", headers=resident.headers)).json()
    assert steps(listed["items"]) == [1, 0]  # the refusals left no trace
