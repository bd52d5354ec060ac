"""The kiosk channel over HTTP: device authentication, card sessions with their refusals, the
narrow set of resident actions, receipts, and the footprint they leave."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import citizen_card
from channels.kiosk import devices
from core import clock
from core.settings import get_keyring
from identity import residents
from identity.models import Activity, Resident
from tests.helpers import problem_of
from tests.points.factories import make_award
from tests.points.test_rewards import add_reward
from tests.points_actors import Actor, make_resident

NOW = datetime(2026, 11, 10, 4, tzinfo=UTC)
PIN = "258036"
CHIP = "04A1B2C3D4E5F6"
NUMBER = "3205001234567890"


@pytest.fixture(autouse=True)
def frozen(redis: Any) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(NOW):
        yield


@dataclass(frozen=True)
class KioskDevice:
    id: uuid.UUID
    name: str
    secret: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Kiosk {self.id}:{self.secret}"}

    def at(self, token: str) -> dict[str, str]:
        return self.headers | {"X-Kiosk-Session": token}


async def make_kiosk(session: AsyncSession, name: str = "松陵街道便民服务中心1号机") -> KioskDevice:
    kiosk, secret = await devices.add(session, name=name, community="songling")
    return KioskDevice(kiosk.id, kiosk.name, secret)


async def make_card(
    session: AsyncSession,
    resident: Actor,
    *,
    number: str = NUMBER,
    chip: str = CHIP,
    pin: str | None = PIN,
) -> citizen_card.CardOut:
    """An active card handed over at the counter, with its PIN set by the resident."""
    card = await citizen_card.issue(
        session,
        resident_id=resident.id,
        number=number,
        chip_uid=chip,
        actor="staff:test",
        channel="counter",
    )
    if pin is not None:
        await citizen_card.set_pin(session, resident_id=resident.id, pin=pin)
    return card


async def start(
    client: AsyncClient, kiosk: KioskDevice, *, chip: str = CHIP, pin: str = PIN
) -> Response:
    return await client.post(
        "/v1/kiosk/sessions", json={"chip_uid": chip, "pin": pin}, headers=kiosk.headers
    )


async def session_token(client: AsyncClient, kiosk: KioskDevice, chip: str = CHIP) -> str:
    started = await start(client, kiosk, chip=chip)
    assert started.status_code == 201, started.text
    token: str = started.json()["session_token"]
    return token


async def footprint(session: AsyncSession, resident: Actor) -> list[tuple[str, str, str | None]]:
    rows = await session.scalars(
        select(Activity).where(Activity.resident_id == resident.id).order_by(Activity.id)
    )
    return [(row.channel, row.action, row.device) for row in rows]


def columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in line)


# --- the kiosk itself ------------------------------------------------------------------------


async def test_requests_without_a_registered_kiosk_are_refused_alike(
    client: AsyncClient, session: AsyncSession
) -> None:
    kiosk = await make_kiosk(session)

    bodies = []
    for headers in (
        {},
        {"Authorization": "Kiosk"},
        {"Authorization": f"Bearer {kiosk.secret}"},
        {"Authorization": f"Kiosk {kiosk.id}"},
        {"Authorization": f"Kiosk {kiosk.id}:wrong-{kiosk.secret}"},
        {"Authorization": f"Kiosk {uuid.uuid4()}:{kiosk.secret}"},
    ):
        response = await client.get("/v1/kiosk/me/points", headers=headers)
        body = problem_of(response)
        assert response.status_code == 401
        assert body["type"] == "urn:wujiang:problem:kiosk-unauthenticated"
        assert response.headers["WWW-Authenticate"] == 'Kiosk realm="wujiang"'
        bodies.append(body)

    assert all(body == bodies[0] for body in bodies)
    # The kiosk itself is fine: what is missing is a card session.
    no_session = await client.get("/v1/kiosk/me/points", headers=kiosk.headers)
    assert problem_of(no_session)["type"].endswith("kiosk-session-expired")


async def test_a_revoked_kiosk_is_refused_at_once_session_and_all(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)
    assert (await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))).status_code == 200

    await devices.revoke(session, kiosk_id=kiosk.id)

    refused = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))
    restart = await start(client, kiosk)
    assert problem_of(refused)["type"].endswith("kiosk-unauthenticated")
    assert problem_of(restart)["type"].endswith("kiosk-unauthenticated")


async def test_a_rotated_kiosk_may_use_its_old_secret_for_ten_minutes(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    _, new_secret = await devices.rotate(session, kiosk_id=kiosk.id)
    renewed = KioskDevice(kiosk.id, kiosk.name, new_secret)

    clock.advance(timedelta(minutes=9))
    old_works = await start(client, kiosk)
    new_works = await start(client, renewed)
    clock.advance(timedelta(minutes=1))
    old_refused = await start(client, kiosk)
    new_still = await start(client, renewed)

    assert old_works.status_code == 201, old_works.text
    assert new_works.status_code == 201, new_works.text
    assert problem_of(old_refused)["type"].endswith("kiosk-unauthenticated")
    assert new_still.status_code == 201, new_still.text


# --- starting a card session -----------------------------------------------------------------


async def test_a_card_and_its_pin_start_a_short_session(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)

    started = await start(client, kiosk, chip="04:a1:b2:c3:d4:e5:f6")

    assert started.status_code == 201, started.text
    body = started.json()
    assert len(body["session_token"]) >= 43
    assert body["expires_at"] == "2026-11-10T04:03:00Z"
    assert body["ends_at_latest"] == "2026-11-10T04:10:00Z"
    assert body["idle_seconds"] == 180
    assert body["card_last4"] == "7890"
    assert started.headers["Cache-Control"] == "no-store"
    assert await footprint(session, resident) == [
        ("kiosk", "kiosk.session_start", "松陵街道便民服务中心1号机")
    ]


async def test_wrong_pins_count_down_then_lock_the_card_for_good(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    card = await make_card(session, resident)
    kiosk = await make_kiosk(session)

    attempts = [await start(client, kiosk, pin="147036") for _ in range(5)]
    right_pin_too_late = await start(client, kiosk)

    for response, left in zip(attempts[:4], (4, 3, 2, 1), strict=True):
        body = problem_of(response)
        assert response.status_code == 401
        assert body["type"].endswith("wrong-pin")
        assert body["attempts_left"] == left
    locked = problem_of(attempts[4])
    assert attempts[4].status_code == 423
    assert locked["type"].endswith("card-locked")
    assert problem_of(right_pin_too_late)["type"].endswith("card-locked")
    # The lock is the card's, in the database: it survives any restart.
    stored = await citizen_card.card(session, card_id=card.id)
    assert stored.locked_until == NOW + timedelta(hours=24)
    # Every counted guess is in the resident's footprint; the refusal of a locked card is not.
    assert (
        await footprint(session, resident)
        == [("kiosk", "kiosk.pin_rejected", "松陵街道便民服务中心1号机")] * 5
    )


async def test_lost_frozen_and_unknown_cards_start_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    lost_owner = await make_resident(session)
    await make_card(session, lost_owner)
    await citizen_card.report_lost(
        session, resident_id=lost_owner.id, actor="resident:test", channel="app"
    )
    kiosk = await make_kiosk(session)

    lost = await start(client, kiosk)
    unknown = await start(client, kiosk, chip="0011223344556677AABB")
    malformed = await start(client, kiosk, chip="not-a-chip")
    bad_pin = await start(client, kiosk, pin="12ab56")

    assert lost.status_code == 409
    assert problem_of(lost)["type"].endswith("card-not-usable")
    assert problem_of(lost)["card_status"] == "reported_lost"
    for response in (unknown, malformed):
        assert response.status_code == 401
        assert problem_of(response)["type"].endswith("card-rejected")
    assert problem_of(unknown) | {"instance": ""} == problem_of(malformed) | {"instance": ""}
    assert bad_pin.status_code == 422


async def test_session_starts_are_rate_limited_per_kiosk(
    client: AsyncClient, session: AsyncSession
) -> None:
    kiosk = await make_kiosk(session)
    other = await make_kiosk(session, "松陵2号机")

    tries = [await start(client, kiosk, chip=f"0000{n:04X}") for n in range(11)]
    elsewhere = await start(client, other, chip="00000000")

    assert {r.status_code for r in tries[:10]} == {401}
    limited = problem_of(tries[10])
    assert limited["type"].endswith("rate-limited")
    assert tries[10].headers["Retry-After"] == "60"
    assert elsewhere.status_code == 401


# --- using a session -------------------------------------------------------------------------


async def test_balance_and_history_pages_through_a_session(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    for n in (3, 4, 5):
        await make_award(session, resident.id, points_=n, expires_at=NOW + timedelta(days=n))
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)

    balance = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))
    in_app = await client.get("/v1/me/points", headers=resident.headers)
    first = await client.get(
        "/v1/kiosk/me/points/history", params={"limit": 2}, headers=kiosk.at(token)
    )
    second = await client.get(
        "/v1/kiosk/me/points/history",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=kiosk.at(token),
    )

    assert balance.status_code == 200, balance.text
    assert balance.json() == in_app.json()
    assert balance.json()["available"] == 12
    assert balance.json()["expiring_within_30_days"]["points"] == 12
    assert [item["points"] for item in first.json()["items"]] == [5, 4]
    assert [item["points"] for item in second.json()["items"]] == [3]
    assert second.json()["next_cursor"] is None
    assert [action for _, action, _ in await footprint(session, resident)] == [
        "kiosk.session_start",
        "points.balance",
        "points.history",
        "points.history",
    ]


async def test_rewards_and_a_redemption_replayed_by_its_key(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    await make_award(session, resident.id, points_=80)
    await add_reward(session)
    await add_reward(session, "tea-set", cash_cents=1000, points_cost=10)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)
    key = {"Idempotency-Key": "kiosk-redeem-1"}

    listed = await client.get("/v1/kiosk/rewards", headers=kiosk.at(token))
    first = await client.post(
        "/v1/kiosk/me/redemptions", json={"reward": "tote-bag"}, headers=kiosk.at(token) | key
    )
    replay = await client.post(
        "/v1/kiosk/me/redemptions", json={"reward": "tote-bag"}, headers=kiosk.at(token) | key
    )
    cash = await client.post(
        "/v1/kiosk/me/redemptions",
        json={"reward": "tea-set"},
        headers=kiosk.at(token) | {"Idempotency-Key": "kiosk-redeem-2"},
    )
    unkeyed = await client.post(
        "/v1/kiosk/me/redemptions", json={"reward": "tote-bag"}, headers=kiosk.at(token)
    )
    balance = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))

    assert listed.status_code == 200
    assert {r["code"] for r in listed.json()["items"]} == {"tote-bag", "tea-set"}
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "issued"
    assert first.json()["voucher_code"]
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert problem_of(cash)["type"].endswith("kiosk-payment-unsupported")
    assert unkeyed.status_code == 422
    assert balance.json()["available"] == 30
    assert balance.json()["held"] == 50
    actions = [action for _, action, _ in await footprint(session, resident)]
    assert actions.count("rewards.redeem") == 1  # the replay did nothing new
    assert "rewards.list" in actions


async def test_reporting_the_card_lost_ends_the_session(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    card = await make_card(session, resident)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)

    reported = await client.post("/v1/kiosk/me/card/report-lost", headers=kiosk.at(token))
    after = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))
    again = await start(client, kiosk)

    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "reported_lost"
    assert reported.json()["id"] == str(card.id)
    assert reported.json()["number"] == "3205****7890"
    assert problem_of(after)["type"].endswith("kiosk-session-expired")
    assert problem_of(again)["type"].endswith("card-not-usable")
    history = await citizen_card.history(session, card_id=card.id)
    assert (history[-1].to_status, history[-1].channel, history[-1].actor) == (
        "reported_lost",
        "kiosk",
        f"kiosk:{kiosk.id}",
    )
    assert ("kiosk", "card.report_lost", kiosk.name) in await footprint(session, resident)


async def test_a_card_lost_elsewhere_ends_its_kiosk_session(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)

    await citizen_card.report_lost(
        session, resident_id=resident.id, actor="resident:test", channel="app"
    )
    refused = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))

    assert problem_of(refused)["type"].endswith("kiosk-session-expired")


async def test_a_card_locked_at_another_kiosk_ends_its_session(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    other = await make_kiosk(session, "盛泽1号机")
    token = await session_token(client, kiosk)

    guesses = [await start(client, other, pin="147036") for _ in range(5)]
    refused = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))

    assert guesses[-1].status_code == 423
    assert problem_of(refused)["type"].endswith("kiosk-session-expired")


async def test_ending_a_session(client: AsyncClient, session: AsyncSession) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)

    ended = await client.delete("/v1/kiosk/sessions/current", headers=kiosk.at(token))
    after = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))
    twice = await client.delete("/v1/kiosk/sessions/current", headers=kiosk.at(token))

    assert ended.status_code == 204
    assert problem_of(after)["type"].endswith("kiosk-session-expired")
    assert problem_of(twice)["type"].endswith("kiosk-session-expired")
    assert [a for _, a, _ in await footprint(session, resident)][-1] == "kiosk.session_end"


async def test_a_session_works_only_on_its_own_kiosk(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    other = await make_kiosk(session, "盛泽1号机")
    token = await session_token(client, kiosk)

    elsewhere = await client.get("/v1/kiosk/me/points", headers=other.at(token))
    end_elsewhere = await client.delete("/v1/kiosk/sessions/current", headers=other.at(token))
    home = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))

    assert problem_of(elsewhere)["type"].endswith("kiosk-session-expired")
    assert problem_of(end_elsewhere)["type"].endswith("kiosk-session-expired")
    assert home.status_code == 200


async def test_sessions_expire_after_three_idle_minutes_and_ten_in_all(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    idle = await session_token(client, kiosk)
    busy = await session_token(client, kiosk)

    async def use(token: str) -> Response:
        return await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))

    statuses = []
    for _ in range(4):  # the busy one is used every 2.5 minutes: 2.5, 5, 7.5 and 10 minutes
        clock.advance(timedelta(minutes=2, seconds=30))
        statuses.append((await use(busy)).status_code)
        if len(statuses) == 2:  # at 5 minutes: the idle one, last used at 0, is long gone
            assert problem_of(await use(idle))["type"].endswith("kiosk-session-expired")

    assert statuses == [200, 200, 200, 401]


async def test_almost_idle_sessions_live_on(client: AsyncClient, session: AsyncSession) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)

    clock.advance(timedelta(minutes=2, seconds=59))
    used = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))
    clock.advance(timedelta(minutes=3))
    gone = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))

    assert used.status_code == 200
    assert problem_of(gone)["type"].endswith("kiosk-session-expired")


async def test_a_kiosk_session_reaches_only_its_residents_data_and_no_app_endpoint(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    neighbour = await make_resident(session, phone="13912345678")
    await make_card(session, neighbour, number="3205009876543210", chip="A1B2C3D4")
    await make_award(session, resident.id, points_=80)
    await make_award(session, neighbour.id, points_=7)
    await add_reward(session)
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)
    theirs = await client.post(
        "/v1/me/redemptions",
        json={"reward": "tote-bag"},
        headers=neighbour.headers | {"Idempotency-Key": "n-1"},
    )
    assert theirs.status_code == 409  # 7 points: too few, so redeem for them another way
    await make_award(session, neighbour.id, points_=50)
    theirs = await client.post(
        "/v1/me/redemptions",
        json={"reward": "tote-bag"},
        headers=neighbour.headers | {"Idempotency-Key": "n-2"},
    )
    assert theirs.status_code == 201, theirs.text

    mine = await client.get("/v1/kiosk/me/points", headers=kiosk.at(token))
    their_receipt = await client.get(
        f"/v1/kiosk/me/receipts/redemption/{theirs.json()['id']}", headers=kiosk.at(token)
    )
    as_bearer = await client.get("/v1/me/points", headers={"Authorization": f"Bearer {token}"})
    as_kiosk = await client.get("/v1/me/points", headers=kiosk.at(token))
    my_vouchers = await client.get("/v1/me/vouchers", headers=kiosk.at(token))

    assert mine.json()["available"] == 80
    assert problem_of(their_receipt)["type"].endswith("redemption-not-found")
    assert theirs.json()["voucher_code"] not in their_receipt.text
    for response in (as_bearer, as_kiosk, my_vouchers):
        assert response.status_code == 401


# --- receipts --------------------------------------------------------------------------------


async def test_balance_receipts_at_32_and_48_columns(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    row = await session.get(Resident, resident.id)
    assert row is not None
    row.name_token = get_keyring().encrypt("张三丰", context=residents.NAME)
    await session.flush()
    await make_card(session, resident)
    await make_award(session, resident.id, points_=35, expires_at=NOW + timedelta(days=3))
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)

    for width in (32, 48):
        receipt = await client.get(
            "/v1/kiosk/me/receipts/balance", params={"width": width}, headers=kiosk.at(token)
        )

        assert receipt.status_code == 200, receipt.text
        assert receipt.headers["content-type"] == "text/plain; charset=utf-8"
        assert receipt.headers["cache-control"] == "no-store"
        lines = receipt.text.removesuffix("\n").split("\n")
        assert all(columns(line) == width for line in lines)
        assert lines[0].strip() == "智慧吴江 积分凭条"
        assert any(line.startswith("居民") and line.endswith("张**") for line in lines)
        assert any(line.startswith("手机") and line.endswith("138****5678") for line in lines)
        assert any(line.startswith("可用积分") and line.endswith(" 35") for line in lines)
        assert any(line.startswith("时间") and line.endswith("2026-11-10 12:00") for line in lines)
        assert "松陵街道便民服务中心1号机" in receipt.text
        assert "张三丰" not in receipt.text
        assert "13812345678" not in receipt.text

    default = await client.get("/v1/kiosk/me/receipts/balance", headers=kiosk.at(token))
    odd = await client.get(
        "/v1/kiosk/me/receipts/balance", params={"width": 40}, headers=kiosk.at(token)
    )
    assert columns(default.text.split("\n")[0]) == 32
    assert odd.status_code == 422
    actions = [action for _, action, _ in await footprint(session, resident)]
    assert actions.count("receipt.balance") == 3


async def test_a_redemption_receipt_carries_the_voucher_code(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    await make_card(session, resident)
    await make_award(session, resident.id, points_=80)
    await add_reward(session, title={"zh": "吴江丝绸博物馆成人门票一张（限周末）", "en": "Ticket"})
    kiosk = await make_kiosk(session)
    token = await session_token(client, kiosk)
    redeemed = await client.post(
        "/v1/kiosk/me/redemptions",
        json={"reward": "tote-bag"},
        headers=kiosk.at(token) | {"Idempotency-Key": "r-1"},
    )
    code = redeemed.json()["voucher_code"]

    for width in (32, 48):
        receipt = await client.get(
            f"/v1/kiosk/me/receipts/redemption/{redeemed.json()['id']}",
            params={"width": width},
            headers=kiosk.at(token),
        )

        assert receipt.status_code == 200, receipt.text
        lines = receipt.text.removesuffix("\n").split("\n")
        assert all(columns(line) == width for line in lines)
        grouped = " ".join(code[i : i + 4] for i in range(0, len(code), 4))
        assert any(line.strip() == grouped for line in lines)
        assert "吴江丝绸博物馆成人门票一张（限周末）" in receipt.text.replace(" ", "").replace(
            "\n", ""
        )
        assert any(line.startswith("剩余可用积分") and line.endswith(" 30") for line in lines)

    missing = await client.get(
        f"/v1/kiosk/me/receipts/redemption/{uuid.uuid4()}", headers=kiosk.at(token)
    )
    assert problem_of(missing)["type"].endswith("redemption-not-found")
