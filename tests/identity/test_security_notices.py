"""Security notices a resident gets, written to the outbox with the change that causes them:
every sign-in, and a refresh token replayed after it was rotated (the session is ended and the
notice kept, although the request itself is refused)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import respx
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import select

from core import clock
from notifications import outbox
from notifications.models import Device
from tests.api.residents import SMS_URL, bearer, refresh, sign_in
from tests.points_actors import make_staff

SIGNED_IN = "security.signed_in"
REUSED = "security.refresh_token_reused"


@pytest.fixture
def still_clock(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(clock.now()):
        yield


@pytest.fixture
def gateways(settings, monkeypatch) -> Iterator[respx.MockRouter]:
    monkeypatch.setattr(settings, "sms_gateway_url", SMS_URL)
    monkeypatch.setattr(settings, "sms_gateway_token", SecretStr("test-sms-token"))
    with respx.mock(assert_all_called=False) as mock:
        mock.post(SMS_URL).respond(200, json={"ok": True})
        yield mock


pytestmark = pytest.mark.usefixtures("still_clock")


async def resident_of(client, tokens: dict) -> uuid.UUID:
    return uuid.UUID((await client.get("/v1/me", headers=bearer(tokens))).json()["id"])


async def test_each_sign_in_tells_the_resident(client, gateways, session):
    phone = await sign_in(client, gateways, device="Mate 60")
    tablet = await sign_in(client, gateways, device="iPad")
    resident_id = await resident_of(client, phone)

    notices = await outbox.pending(session, topic=SIGNED_IN)

    assert [n.resident_id for n in notices] == [resident_id, resident_id]
    by_session = {n.payload["session_id"]: n.payload for n in notices}
    assert set(by_session) == {phone["session_id"], tablet["session_id"]}
    first = by_session[phone["session_id"]]
    assert first["channel"] == "app"
    assert first["device_name"] == "Mate 60"
    assert datetime.fromisoformat(first["at"]).tzinfo is not None
    assert by_session[tablet["session_id"]]["device_name"] == "iPad"
    assert "13812345678" not in str(first)


async def test_a_refused_sign_in_tells_nobody(client, gateways, session):
    await client.post("/v1/auth/sms-codes", json={"phone": "13812345678"})

    refused = await client.post(
        "/v1/auth/sessions/sms", json={"phone": "13812345678", "code": "not-it"}
    )

    assert refused.status_code == 400
    assert await outbox.pending(session, topic=SIGNED_IN) == []


async def test_staff_sign_ins_are_not_residents_notices(session):
    await make_staff(session, "clerk-wang", [("awarder", "songling")])

    assert await outbox.pending(session, topic=SIGNED_IN) == []


async def test_a_reused_refresh_token_ends_the_session_and_tells_the_resident(
    client, gateways, session
):
    first = await sign_in(client, gateways)
    resident_id = await resident_of(client, first)
    await client.post(
        "/v1/me/push-tokens",
        json={"token": "fcm-token:APA91b-stolen-phone", "platform": "android"},
        headers=bearer(first),
    )
    rotated = await refresh(client, first)
    assert rotated.status_code == 200
    assert await outbox.pending(session, topic=REUSED) == []  # an honest refresh is no news

    clock.advance(timedelta(seconds=30))
    reused = await refresh(client, first)  # a thief replays the old token
    replayed = await refresh(client, first)  # and again

    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert replayed.status_code == 400
    [notice] = await outbox.pending(session, topic=REUSED)  # kept though refused; told once
    assert notice.resident_id == resident_id
    assert notice.payload["session_id"] == first["session_id"]
    assert datetime.fromisoformat(notice.payload["at"]) == clock.now()
    assert (await refresh(client, rotated.json())).status_code == 400  # the family is gone
    devices = (await session.execute(select(Device))).scalars().all()
    assert devices == []  # the ended session's push token went with it


async def test_two_refreshes_racing_are_not_a_theft(client, gateways, session):
    tokens = await sign_in(client, gateways)
    assert (await refresh(client, tokens)).status_code == 200

    late = await refresh(client, tokens)  # within the grace period: a retry, not a thief

    assert late.status_code == 400
    assert await outbox.pending(session, topic=REUSED) == []
    assert (await client.get("/v1/me", headers=bearer(tokens))).status_code == 200
