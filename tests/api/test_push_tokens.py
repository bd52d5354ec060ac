"""Residents' push tokens over HTTP: registering (idempotent), moving between residents, the cap
of 20 devices, hostile tokens, and sign-out removing the session's token."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import Database
from notifications import devices
from notifications.errors import InvalidPushToken
from notifications.models import Device
from tests.api.residents import bearer, sign_in
from tests.helpers import problem_of
from tests.points_actors import make_resident

FCM_TOKEN = "dQw4w9WgXcQ:APA91bH-example_token-1234567890abcdefghijklmnopqrstuvwxyz"
NOW = datetime(2026, 11, 25, 4, tzinfo=UTC)


@pytest.fixture
def still(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(NOW):
        yield


def token(n: int) -> str:
    return f"fcm-token-{n:04d}:APA91b{'x' * 40}"


async def register(client: AsyncClient, headers: dict[str, str], value: str, platform="android"):
    return await client.post(
        "/v1/me/push-tokens", json={"token": value, "platform": platform}, headers=headers
    )


async def stored(session: AsyncSession) -> list[Device]:
    return list(
        (await session.execute(select(Device).execution_options(populate_existing=True))).scalars()
    )


@pytest.mark.usefixtures("still")
async def test_registering_again_refreshes_the_same_device(client, session):
    me = await make_resident(session)

    first = await register(client, me.headers, FCM_TOKEN)
    clock.advance(timedelta(minutes=3))
    again = await register(client, me.headers, FCM_TOKEN, platform="android")

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["token"] == FCM_TOKEN[:6] + "…"
    assert again.json()["created_at"] == first.json()["created_at"]
    assert datetime.fromisoformat(again.json()["last_seen_at"]) == NOW + timedelta(minutes=3)
    [device] = await stored(session)
    assert device.token == FCM_TOKEN
    assert device.resident_id == me.id
    listed = await client.get("/v1/me/push-tokens", headers=me.headers)
    assert listed.status_code == 200
    assert listed.json()["items"] == [again.json()]
    assert FCM_TOKEN not in listed.text


@pytest.mark.usefixtures("still")
async def test_a_token_registered_by_another_resident_moves_to_them(client, session):
    seller = await make_resident(session, phone="13800000001")
    buyer = await make_resident(session, phone="13900000002")
    sold = (await register(client, seller.headers, FCM_TOKEN)).json()

    bought = await register(client, buyer.headers, FCM_TOKEN, platform="harmony")

    assert bought.status_code == 201, bought.text
    assert bought.json()["id"] != sold["id"]  # deliveries queued for the old device go nowhere
    assert (await client.get("/v1/me/push-tokens", headers=seller.headers)).json()["items"] == []
    assert [
        d["id"]
        for d in (await client.get("/v1/me/push-tokens", headers=buyer.headers)).json()["items"]
    ] == [bought.json()["id"]]
    gone = await client.delete(f"/v1/me/push-tokens/{sold['id']}", headers=seller.headers)
    assert gone.status_code == 404
    reach = await devices.tokens_for(session, [seller.id, buyer.id])
    assert seller.id not in reach
    assert [(d.token, d.platform) for d in reach[buyer.id]] == [(FCM_TOKEN, "harmony")]


@pytest.mark.usefixtures("still")
async def test_the_21st_device_drops_the_least_recently_seen(client, session):
    me = await make_resident(session)
    for n in range(20):
        assert (await register(client, me.headers, token(n))).status_code == 201
        clock.advance(timedelta(seconds=10))
    await register(client, me.headers, token(0))  # seen again: now the most recent
    clock.advance(timedelta(seconds=10))

    newest = await register(client, me.headers, token(20))

    assert newest.status_code == 201
    kept = {d.token for d in await stored(session)}
    assert len(kept) == 20
    assert token(1) not in kept  # the least recently seen
    assert {token(0), token(20)} <= kept


@pytest.mark.usefixtures("still")
@pytest.mark.parametrize(
    "hostile",
    [
        "",
        "token with spaces",
        "tab\tseparated",
        "line\nbreak",
        "x" * 5000,
        "令牌-unicode",
        "fullwidth-ｔｏｋｅｎ",
        "nul\x00byte",
        None,
        12345,
        ["a"],
    ],
    ids=[
        "empty",
        "spaces",
        "tab",
        "newline",
        "5kB",
        "cjk",
        "fullwidth",
        "nul",
        "null",
        "int",
        "list",
    ],
)
async def test_hostile_tokens_are_refused_without_echo(client, session, hostile):
    me = await make_resident(session)

    refused = await client.post(
        "/v1/me/push-tokens", json={"token": hostile, "platform": "ios"}, headers=me.headers
    )

    assert refused.status_code == 422
    problem = problem_of(refused)
    assert problem["type"].endswith("validation-error")
    assert [e["field"] for e in problem["errors"]] == ["body.token"]
    if isinstance(hostile, str) and len(hostile) > 3:
        assert hostile not in refused.text
    assert await stored(session) == []


@pytest.mark.usefixtures("still")
@pytest.mark.parametrize(
    "body",
    [
        {"token": FCM_TOKEN, "platform": "blackberry"},
        {"token": FCM_TOKEN},
        {"token": FCM_TOKEN, "platform": "ios", "extra": 1},
    ],
)
async def test_bad_platforms_and_extra_fields_are_refused(client, session, body):
    me = await make_resident(session)

    refused = await client.post("/v1/me/push-tokens", json=body, headers=me.headers)

    assert refused.status_code == 422
    assert problem_of(refused)["type"].endswith("validation-error")


@pytest.mark.parametrize(
    ("value", "platform", "field"),
    [
        ("", "ios", "token"),
        ("a b", "ios", "token"),
        ("é", "ios", "token"),
        ("x" * 4097, "ios", "token"),
        ("ok", "symbian", "platform"),
    ],
)
async def test_the_service_checks_tokens_for_callers_other_than_the_api(
    session, value, platform, field
):
    me = await make_resident(session)

    with pytest.raises(InvalidPushToken) as refused:
        await devices.register(
            session, resident_id=me.id, session_id=None, token=value, platform=platform
        )

    assert refused.value.field == field
    if value:
        assert value not in refused.value.detail


@pytest.mark.usefixtures("still")
async def test_a_resident_cannot_see_or_remove_another_residents_device(client, session):
    mine = await make_resident(session, phone="13800000001")
    theirs = await make_resident(session, phone="13900000002")
    their_device = (await register(client, theirs.headers, FCM_TOKEN)).json()

    attempt = await client.delete(f"/v1/me/push-tokens/{their_device['id']}", headers=mine.headers)
    listed = await client.get("/v1/me/push-tokens", headers=mine.headers)
    removed = await client.delete(
        f"/v1/me/push-tokens/{their_device['id']}", headers=theirs.headers
    )
    again = await client.delete(f"/v1/me/push-tokens/{their_device['id']}", headers=theirs.headers)

    assert attempt.status_code == 404
    assert problem_of(attempt)["type"].endswith("push-token-not-found")
    assert listed.json()["items"] == []
    assert removed.status_code == 204
    assert again.status_code == 404
    assert await stored(session) == []


async def test_push_tokens_need_a_signed_in_resident(client):
    assert (await client.get("/v1/me/push-tokens")).status_code == 401
    assert (await register(client, {}, FCM_TOKEN)).status_code == 401
    bogus = {"Authorization": "Bearer not.a.jwt"}
    assert (await client.get("/v1/me/push-tokens", headers=bogus)).status_code == 401


async def test_the_same_token_registered_at_once_never_fails(
    committed_client, committed_db: Database
):
    async with committed_db.unit_of_work() as s:
        me = await make_resident(s)

    answers = await asyncio.gather(
        *(register(committed_client, me.headers, FCM_TOKEN) for _ in range(6))
    )

    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    async with committed_db.unit_of_work() as s:
        count = await s.scalar(select(func.count()).select_from(Device))
    assert count == 1


async def test_the_same_token_claimed_by_two_residents_at_once_ends_with_one(
    committed_client, committed_db: Database
):
    async with committed_db.unit_of_work() as s:
        one = await make_resident(s, phone="13800000001")
        other = await make_resident(s, phone="13900000002")

    answers = await asyncio.gather(
        *(register(committed_client, r.headers, FCM_TOKEN) for r in [one, other] * 3)
    )

    assert {a.status_code for a in answers} <= {200, 201}
    async with committed_db.unit_of_work() as s:
        rows = list((await s.execute(select(Device))).scalars())
    assert len(rows) == 1
    assert rows[0].resident_id in {one.id, other.id}


# --- sign-out removes the session's token ---------------------------------------------------


@pytest.mark.usefixtures("still_clock")
async def test_signing_out_removes_only_that_sessions_token(client, gateways, session):
    phone = await sign_in(client, gateways, device="phone")
    tablet = await sign_in(client, gateways, device="tablet")
    await register(client, bearer(phone), token(1))
    await register(client, bearer(tablet), token(2), platform="ios")

    out = await client.post("/v1/auth/sign-out", headers=bearer(phone))

    assert out.status_code == 204
    assert {d.token for d in await stored(session)} == {token(2)}
    listed = await client.get("/v1/me/push-tokens", headers=bearer(tablet))
    assert [d["platform"] for d in listed.json()["items"]] == ["ios"]


@pytest.mark.usefixtures("still_clock")
async def test_ending_a_session_from_another_device_removes_its_token(client, gateways, session):
    phone = await sign_in(client, gateways, device="phone")
    tablet = await sign_in(client, gateways, device="tablet")
    await register(client, bearer(phone), token(1))
    await register(client, bearer(tablet), token(2))

    ended = await client.delete(f"/v1/me/sessions/{tablet['session_id']}", headers=bearer(phone))

    assert ended.status_code == 204
    assert {d.token for d in await stored(session)} == {token(1)}


@pytest.mark.usefixtures("still_clock")
async def test_signing_out_everywhere_removes_every_token_of_the_resident_only(
    client, gateways, session
):
    phone = await sign_in(client, gateways, device="phone")
    tablet = await sign_in(client, gateways, device="tablet")
    neighbour = await sign_in(client, gateways, phone="13900000002")
    await register(client, bearer(phone), token(1))
    await register(client, bearer(tablet), token(2))
    await register(client, bearer(neighbour), token(3))

    out = await client.post("/v1/me/sessions/revoke-all", headers=bearer(phone))

    assert out.json() == {"sessions_ended": 2}
    assert {d.token for d in await stored(session)} == {token(3)}


@pytest.mark.usefixtures("still_clock")
async def test_a_token_re_registered_in_a_new_session_follows_that_session(
    client, gateways, session
):
    old = await sign_in(client, gateways, device="phone")
    await register(client, bearer(old), FCM_TOKEN)
    new = await sign_in(client, gateways, device="phone")  # signed in again on the same phone
    assert (await register(client, bearer(new), FCM_TOKEN)).status_code == 200

    await client.post("/v1/auth/sign-out", headers=bearer(old))

    [device] = await stored(session)
    assert str(device.session_id) == new["session_id"]
