"""Residents' points over HTTP: summary, history, ranking opt-in and rankings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from identity import sessions
from identity.clients import TV_CLIENT_ID
from points.models import RedemptionStatus
from tests.helpers import problem_of
from tests.points.factories import make_award, make_redemption, make_reward
from tests.points_actors import Actor, make_resident, make_staff

NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)


@pytest.fixture
def november(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(NOV):
        yield


async def tv_box(session: AsyncSession, resident: Actor) -> dict[str, str]:
    """A TV box's token for `resident`: `points:read` only, no `profile`."""
    tokens = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id=TV_CLIENT_ID,
        channel="tv",
        assurance="phone",
        scope="points:read",
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


@pytest.mark.usefixtures("november")
async def test_my_points_from_the_app_and_the_tv(
    client: AsyncClient, session: AsyncSession
) -> None:
    me = await make_resident(session)
    await make_award(session, me.id, points_=40, expires_at=NOV + timedelta(days=3))
    await make_award(session, me.id, behaviour="volunteer-service", points_=20)
    reward = await make_reward(session, points_cost=5)
    await make_redemption(session, me.id, reward, status=RedemptionStatus.ISSUED)

    app = await client.get("/v1/me/points", headers=me.headers)
    tv = await client.get("/v1/me/points", headers=await tv_box(session, me))

    assert app.status_code == 200, app.text
    assert app.json() == {
        "total": 60,
        "available": 55,
        "held": 5,
        "by_category": {"green": 35, "volunteer": 20, "cogovernance": 0, "other": 0},
        "expiring_within_30_days": {"points": 35, "earliest_at": "2026-11-13T04:00:00Z"},
    }
    assert tv.json() == app.json()


async def test_points_need_a_resident_with_points_read(
    client: AsyncClient, session: AsyncSession
) -> None:
    staff = await make_staff(session, "admin-1", [("admin", "*")])

    anonymous = await client.get("/v1/me/points")
    as_staff = await client.get("/v1/me/points/history", headers=staff.headers)

    assert problem_of(anonymous)["status"] == 401
    assert problem_of(as_staff)["status"] == 403


@pytest.mark.usefixtures("november")
async def test_history_pages_over_http_without_gaps_or_repeats(
    client: AsyncClient, session: AsyncSession
) -> None:
    me = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    for n in range(1, 12):
        await make_award(session, me.id, points_=n)
    await make_award(session, other.id, points_=99)

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/me/points/history", params=params, headers=me.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["points"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == list(range(11, 0, -1))
    assert pages == 3
    first = (await client.get("/v1/me/points/history", headers=me.headers)).json()["items"][0]
    assert first["kind"] == "award"
    assert first["balance_after"] == sum(range(1, 12))
    assert first["behaviour"]["title"]["zh"] == "垃圾正确分类投放"
    assert first["category"] == "green"


async def test_history_filters_over_http(client: AsyncClient, session: AsyncSession) -> None:
    me = await make_resident(session)
    with clock.frozen(NOV):
        await make_award(session, me.id, points_=3)
    with clock.frozen(NOV + timedelta(days=1)):
        await make_award(session, me.id, behaviour="volunteer-service", points_=4)

    async def points_of(params: dict[str, str]) -> list[int]:
        response = await client.get("/v1/me/points/history", params=params, headers=me.headers)
        assert response.status_code == 200, response.text
        return [item["points"] for item in response.json()["items"]]

    assert await points_of({"category": "volunteer"}) == [4]
    assert await points_of({"kind": "award", "from": "2026-11-10", "to": "2026-11-10"}) == [3]
    assert await points_of({"kind": "redemption"}) == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"limit": "101"},
        {"limit": "0"},
        {"kind": "gift"},
        {"category": "sports"},
        {"from": "2026-13-01"},
        {"from": "2026-11-11", "to": "2026-11-10"},
        # Days whose local midnight has no UTC instant: refused, never a crash (was a 500).
        {"from": "0001-01-01"},
        {"to": "9999-12-31"},
        # What lax parsing would read as a day (1970-01-01, a timestamp): only YYYY-MM-DD.
        {"to": "0"},
        {"from": "1796309775"},
        {"from": "2026-11-11T00:00:00"},
    ],
)
async def test_invalid_history_queries_are_problems(
    client: AsyncClient, session: AsyncSession, params: dict[str, str]
) -> None:
    me = await make_resident(session)
    await make_award(session, me.id)

    response = await client.get("/v1/me/points/history", params=params, headers=me.headers)

    problem = problem_of(response)
    assert (problem["status"], problem["type"].rsplit(":", 1)[-1]) in {
        (422, "validation-error"),
        (422, "invalid-points-query"),
        (400, "invalid-cursor"),
    }


@pytest.mark.usefixtures("november")
async def test_ranking_opt_in_privacy_and_my_rank(
    client: AsyncClient, session: AsyncSession
) -> None:
    keen = await make_resident(session)
    shy = await make_resident(session, phone="13912345678")
    await make_award(session, keen.id, points_=10)
    await make_award(session, shy.id, points_=50)

    before = await client.get("/v1/points/rankings/songling", headers=keen.headers)
    joined = await client.put(
        "/v1/me/points/ranking",
        json={"opt_in": True, "community": "songling"},
        headers=keen.headers,
    )
    after = await client.get(
        "/v1/points/rankings/songling", params={"month": "2026-11"}, headers=shy.headers
    )
    mine = await client.get("/v1/points/rankings/songling", headers=await tv_box(session, keen))

    assert before.json()["entries"] == []
    assert joined.status_code == 200, joined.text
    assert (joined.json()["opt_in"], joined.json()["points"]) == (True, 10)
    body = after.json()
    assert body["entries"] == [
        {"rank": 1, "display_name": f"居民 ****{keen.id.hex[-4:]}", "points": 10, "me": False}
    ]
    assert body["me"] is None  # the viewer has not opted in
    assert "13812345678" not in after.text
    assert mine.json()["me"] == {"rank": 1, "points": 10}

    left = await client.put(
        "/v1/me/points/ranking",
        json={"opt_in": False, "community": "songling"},
        headers=keen.headers,
    )
    gone = await client.get("/v1/points/rankings/songling", headers=shy.headers)
    assert left.status_code == 200
    assert gone.json()["entries"] == []


async def test_ranking_choice_needs_the_app_and_valid_input(
    client: AsyncClient, session: AsyncSession
) -> None:
    me = await make_resident(session)
    choice = {"opt_in": True, "community": "songling"}

    from_tv = await client.put(
        "/v1/me/points/ranking", json=choice, headers=await tv_box(session, me)
    )
    anonymous = await client.put("/v1/me/points/ranking", json=choice)
    bad_community = await client.put(
        "/v1/me/points/ranking", json={"opt_in": True, "community": "Song Ling"}, headers=me.headers
    )
    bad_month = await client.get(
        "/v1/points/rankings/songling", params={"month": "2026-13"}, headers=me.headers
    )
    bad_path = await client.get("/v1/points/rankings/SONGLING", headers=me.headers)
    # Months at the edges of the calendar (a 500 before: their bounds overflowed).
    edges = [
        await client.get(
            "/v1/points/rankings/songling", params={"month": month}, headers=me.headers
        )
        for month in ("0001-01", "9999-12")
    ]

    assert problem_of(from_tv)["status"] == 403
    assert problem_of(anonymous)["status"] == 401
    assert problem_of(bad_community)["status"] == 422
    assert problem_of(bad_month)["status"] == 422
    assert problem_of(bad_path)["status"] == 422
    assert [problem_of(edge)["type"] for edge in edges] == 2 * [
        "urn:wujiang:problem:invalid-points-query"
    ]


async def test_a_month_that_is_no_calendar_month_is_an_invalid_query(
    client: AsyncClient, session: AsyncSession
) -> None:
    me = await make_resident(session)

    response = await client.get(
        "/v1/points/rankings/songling", params={"month": "0000-01"}, headers=me.headers
    )

    assert response.status_code == 422
    assert problem_of(response)["type"].endswith("invalid-points-query")


@pytest.mark.parametrize("opt_in", [0, 1, "true", "yes", None])
async def test_joining_the_ranking_takes_only_a_json_boolean(
    client: AsyncClient, session: AsyncSession, opt_in: object
) -> None:
    me = await make_resident(session)

    response = await client.put(
        "/v1/me/points/ranking",
        json={"opt_in": opt_in, "community": "songling"},
        headers=me.headers,
    )

    assert response.status_code == 422
    assert problem_of(response)["errors"][0]["field"] == "body.opt_in"
