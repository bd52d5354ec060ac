"""Awards, redemptions, expiries and sign-ins produce the right notices end to end: each producer
driven the way a resident or a staff member drives it (over HTTP with real commits, or through
the worker's own periodic jobs), then the worker, then what the faked FCM received and what the
resident's inbox shows over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

import ledger
from core import clock
from core.db import Database
from core.settings import Settings, get_settings
from notifications import outbox
from notifications.worker import Worker
from points.accounts import wallet
from points.jobs import JOBS
from tests.notifications.fcm_mock import FakeFcm, ReceivedMessage
from tests.notifications.worker_kit import (
    SMS_URL,
    SmsGateway,
    awarded,
    clear_outbox,
    deliveries,
    inbox_of,
    make_worker,
    outbox_rows,
    resident,
)
from tests.points.factories import make_award, publish_default_behaviours
from tests.points.test_rewards import add_reward, fund
from tests.points_actors import Actor, make_resident, make_staff

# 10:00 in Wujiang, outside the default quiet hours (22:00-08:00 Asia/Shanghai).
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
# 23:30 in Wujiang, inside them.
NIGHT = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
# Points that lapse at 10:00 in Wujiang on 1 January 2027; the reminder run 29 days before.
EXPIRES = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)
REMIND_AT = EXPIRES - timedelta(days=29)
AFTER_EXPIRY = EXPIRES + timedelta(hours=1)


@pytest.fixture(autouse=True)
def daytime(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test (codes, limits)
    with clock.frozen(DAYTIME):
        yield


@pytest.fixture
async def worker(
    committed_db: Database, fcm_settings: Settings, fake_fcm: FakeFcm
) -> AsyncIterator[Worker]:
    made = make_worker(committed_db, fcm_settings)
    yield made
    await made.push.aclose()


@pytest.fixture
async def jobs_worker(
    committed_db: Database, fcm_settings: Settings, fake_fcm: FakeFcm
) -> AsyncIterator[Worker]:
    """The worker as `wujiang worker` runs it: with the periodic jobs."""
    made = make_worker(committed_db, fcm_settings)
    yield Worker(made.database, made.settings, push=made.push, sms=made.sms, jobs=JOBS)
    await made.push.aclose()


@pytest.fixture
def sms(fake_fcm: FakeFcm, fcm_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> SmsGateway:
    """The SMS gateway the API texts sign-in codes through (and the worker its texts)."""
    monkeypatch.setattr(get_settings(), "sms_gateway_url", SMS_URL)
    monkeypatch.setattr(get_settings(), "sms_gateway_token", SecretStr("sms-secret"))
    return SmsGateway(fake_fcm)


# --- residents, staff and what they see ---------------------------------------------------


@dataclass(frozen=True)
class AppUser:
    """A resident signed in to the app, with devices registered over HTTP."""

    actor: Actor
    phone: str
    tokens: list[str]

    @property
    def id(self) -> uuid.UUID:
        return self.actor.id

    @property
    def headers(self) -> dict[str, str]:
        return self.actor.headers


async def app_user(
    database: Database, client: httpx.AsyncClient, phone: str, *, devices: int = 1
) -> AppUser:
    """A signed-in resident who registered `devices` push tokens (`POST /v1/me/push-tokens`).
    The sign-in's own security notice is queued: `clear_outbox` forgets it."""
    async with database.unit_of_work() as session:
        actor = await make_resident(session, phone=phone)
    tokens = [f"fcm-{phone}-{i}:APA91b{uuid.uuid4().hex}" for i in range(devices)]
    for token in tokens:
        await register(client, actor.headers, token)
    return AppUser(actor, phone, tokens)


async def register(client: httpx.AsyncClient, headers: dict[str, str], token: str) -> None:
    response = await client.post(
        "/v1/me/push-tokens", json={"token": token, "platform": "android"}, headers=headers
    )
    assert response.status_code == 201, response.text


async def fresh_token(database: Database, user: AppUser) -> AppUser:
    """The same resident signed in again now (access tokens live minutes; the clock jumps)."""
    async with database.unit_of_work() as session:
        actor = await make_resident(session, phone=user.phone)
    return AppUser(actor, user.phone, user.tokens)


async def staff_member(database: Database, username: str, grants: list[tuple[str, str]]) -> Actor:
    async with database.unit_of_work() as session:
        await publish_default_behaviours(session)
        return await make_staff(session, username, grants)


async def award_by_code(
    client: httpx.AsyncClient, staff: Actor, user: AppUser, behaviour: str = "tree-planting"
) -> dict[str, Any]:
    """The resident shows their earning code; the staff member scans it and certifies."""
    shown = await client.get("/v1/me/points/code", headers=user.headers)
    assert shown.status_code == 200, shown.text
    response = await client.post(
        "/v1/staff/awards",
        json={
            "behaviour": behaviour,
            "quantity": "1",
            "community": "songling",
            "code": shown.json()["code"],
        },
        headers={**staff.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def decide(
    client: httpx.AsyncClient, staff: Actor, award_id: str, action: str, body: dict[str, str] | None
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/staff/awards/{award_id}/{action}", json=body, headers=staff.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def redeem(
    client: httpx.AsyncClient, user: AppUser, reward: str = "tote-bag"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/me/redemptions",
        json={"reward": reward},
        headers={**user.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def inbox_page(client: httpx.AsyncClient, user: AppUser) -> dict[str, Any]:
    response = await client.get("/v1/me/inbox", headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def unread(client: httpx.AsyncClient, user: AppUser) -> int:
    response = await client.get("/v1/me/inbox/unread-count", headers=user.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["unread"])


def pushed(fake_fcm: FakeFcm, topic: str, token: str | None = None) -> list[ReceivedMessage]:
    """What FCM delivered about `topic` (to `token`)."""
    return [
        m
        for m in fake_fcm.delivered
        if m.data.get("topic") == topic and (token is None or m.token == token)
    ]


async def balance(database: Database, user: AppUser) -> int:
    async with database.unit_of_work() as session:
        return await ledger.balance(session, account=wallet(user.id))


# --- awards -----------------------------------------------------------------------------------


async def test_a_staff_award_is_pushed_to_every_device_and_waits_unread_in_the_inbox(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    worker: Worker,
    fake_fcm: FakeFcm,
) -> None:
    ming = await app_user(committed_db, committed_client, "13800000101", devices=2)
    awarder = await staff_member(committed_db, "zhang.min", [("awarder", "songling")])
    await clear_outbox(committed_db)

    award = await award_by_code(committed_client, awarder, ming)
    done = await worker.run_until_idle()

    assert award["status"] == "posted"
    assert (done.fanned_out, done.sent) == (1, 2)
    notification_ids = set()
    for token in ming.tokens:
        [got] = fake_fcm.delivered_to(token)
        assert got.data["topic"] == "points.awarded"
        assert got.data["award_id"] == award["id"]
        assert got.title == "积分到账"
        assert "「义务植树」获得 10 积分" in (got.body or "")
        assert got.android_tag == got.data["notification_id"]
        assert got.android_collapse_key == got.data["notification_id"]
        notification_ids.add(got.data["notification_id"])
    assert len(notification_ids) == 2  # one notification per device delivery

    page = await inbox_page(committed_client, ming)
    [item] = page["items"]
    assert (item["topic"], item["title"], item["read_at"]) == ("points.awarded", "积分到账", None)
    assert item["data"]["award_id"] == award["id"]
    assert item["body"] == fake_fcm.delivered[0].body
    assert page["unread"] == 1
    assert await unread(committed_client, ming) == 1

    read = await committed_client.post(f"/v1/me/inbox/{item['id']}/read", headers=ming.headers)

    assert read.status_code == 200, read.text
    assert read.json()["read_at"] is not None
    assert await unread(committed_client, ming) == 0
    assert (await inbox_page(committed_client, ming))["items"][0]["read_at"] is not None
    assert (await worker.run_until_idle()).sent == 0  # nothing goes out twice


async def test_a_large_award_is_pushed_only_once_approved_and_rejections_and_reversals_too(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    worker: Worker,
    fake_fcm: FakeFcm,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "points_approval_threshold", 5)
    fang = await app_user(committed_db, committed_client, "13800000102")
    maker = await staff_member(committed_db, "zhang.min", [("awarder", "songling")])
    checker = await staff_member(committed_db, "li.na", [("approver", "songling")])
    await clear_outbox(committed_db)
    [token] = fang.tokens

    first = await award_by_code(committed_client, maker, fang)
    second = await award_by_code(committed_client, maker, fang)
    waiting = await worker.run_until_idle()

    assert (first["status"], second["status"]) == ("pending", "pending")
    assert (waiting.fanned_out, waiting.sent) == (0, 0)
    assert fake_fcm.received == []
    assert (await inbox_page(committed_client, fang))["items"] == []

    await decide(committed_client, checker, first["id"], "approve", {"reason": "photo seen"})
    await worker.run_until_idle()
    [approved] = pushed(fake_fcm, "points.awarded", token)
    assert approved.data["award_id"] == first["id"]
    assert "10 积分" in (approved.body or "")

    await decide(committed_client, checker, second["id"], "reject", {"reason": "no photo of it"})
    await worker.run_until_idle()
    [rejected] = pushed(fake_fcm, "points.award_rejected", token)
    assert rejected.data["award_id"] == second["id"]
    assert rejected.title == "积分申请未通过"
    assert "原因：no photo of it" in (rejected.body or "")
    assert len(pushed(fake_fcm, "points.awarded")) == 1  # the rejected award never was

    await decide(committed_client, checker, first["id"], "reversal", {"reason": "entered twice"})
    await worker.run_until_idle()
    [reversed_] = pushed(fake_fcm, "points.reversed", token)
    assert reversed_.data["award_id"] == first["id"]
    assert reversed_.title == "积分已撤回"
    assert "10 积分" in (reversed_.body or "")
    assert "原因：entered twice" in (reversed_.body or "")

    page = await inbox_page(committed_client, fang)
    assert [i["topic"] for i in page["items"]] == [
        "points.reversed",
        "points.award_rejected",
        "points.awarded",
    ]
    assert page["unread"] == 3
    assert await balance(committed_db, fang) == 0


# --- redemptions ------------------------------------------------------------------------------


async def test_a_redemption_is_pushed_and_neither_push_nor_inbox_carries_the_voucher_code(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    worker: Worker,
    fake_fcm: FakeFcm,
) -> None:
    hua = await app_user(committed_db, committed_client, "13800000103", devices=2)
    async with committed_db.unit_of_work() as session:
        await fund(session, hua.id, 200)
        await add_reward(session)
    await clear_outbox(committed_db)

    redemption = await redeem(committed_client, hua)
    done = await worker.run_until_idle()

    voucher = redemption["voucher_code"]
    assert voucher
    assert done.sent == 2
    for token in hua.tokens:
        [got] = pushed(fake_fcm, "rewards.redeemed", token)
        assert got.data["redemption_id"] == redemption["id"]
        assert got.title == "兑换成功"
        assert "「环保袋」" in (got.body or "")
    assert fake_fcm.received
    for message in fake_fcm.received:
        raw = json.dumps(message.raw, ensure_ascii=False)
        assert voucher not in raw
        assert redemption["qr_payload"] not in raw
    response = await committed_client.get("/v1/me/inbox", headers=hua.headers)
    [item] = response.json()["items"]
    assert item["data"]["redemption_id"] == redemption["id"]
    assert voucher not in item["body"]
    assert voucher not in json.dumps(item["data"])
    assert voucher not in response.text
    [stored] = await inbox_of(committed_db, hua.id)
    assert voucher not in json.dumps(stored.data) + stored.body + stored.title


async def test_a_voucher_left_unused_is_reminded_then_times_out_through_the_jobs(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    jobs_worker: Worker,
    fake_fcm: FakeFcm,
) -> None:
    lin = await app_user(committed_db, committed_client, "13800000104")
    async with committed_db.unit_of_work() as session:
        await fund(session, lin.id, 200)
        await add_reward(session, voucher_valid_days=30)
    await clear_outbox(committed_db)
    redemption = await redeem(committed_client, lin)
    await jobs_worker.run_until_idle()
    assert [m.data["topic"] for m in fake_fcm.delivered] == ["rewards.redeemed"]
    assert await balance(committed_db, lin) == 150

    # Two days before it lapses the resident is reminded, once however often the job runs.
    expires_at = datetime.fromisoformat(redemption["expires_at"])
    with clock.frozen(expires_at - timedelta(days=2)):
        await jobs_worker.run_until_idle()
        clock.advance(timedelta(hours=1, minutes=1))
        await jobs_worker.run_until_idle()
    [reminded] = pushed(fake_fcm, "rewards.voucher_expiring", lin.tokens[0])
    assert reminded.data["redemption_id"] == redemption["id"]
    assert reminded.title == "兑换券即将过期"

    # A day after the voucher lapsed, at 10:00 in Wujiang.
    with clock.frozen(expires_at + timedelta(days=1)):
        await jobs_worker.run_until_idle()
        lin = await fresh_token(committed_db, lin)
        page = await inbox_page(committed_client, lin)
        shown = await committed_client.get(
            f"/v1/me/redemptions/{redemption['id']}", headers=lin.headers
        )

    [told] = pushed(fake_fcm, "rewards.voucher_expired", lin.tokens[0])
    assert told.data["redemption_id"] == redemption["id"]
    assert told.title == "兑换已过期"
    assert "「环保袋」" in (told.body or "")
    assert shown.json()["status"] == "expired"
    assert await balance(committed_db, lin) == 200  # the points came back
    assert [i["topic"] for i in page["items"]] == [
        "rewards.voucher_expired",
        "rewards.voucher_expiring",
        "rewards.redeemed",
    ]


# --- expiry -------------------------------------------------------------------------------------


async def points_lapsing(database: Database, user: AppUser, points: int) -> None:
    async with database.unit_of_work() as session:
        await make_award(session, user.id, points_=points, expires_at=EXPIRES)


async def test_points_about_to_lapse_are_reminded_once_then_expire_and_the_resident_is_told(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    jobs_worker: Worker,
    fake_fcm: FakeFcm,
) -> None:
    qian = await app_user(committed_db, committed_client, "13800000105")
    await points_lapsing(committed_db, qian, 30)
    await clear_outbox(committed_db)
    [token] = qian.tokens

    with clock.frozen(REMIND_AT):
        await jobs_worker.run_until_idle()
        [reminder] = pushed(fake_fcm, "points.expiring", token)
    assert reminder.title == "积分即将过期"
    assert "30 积分" in (reminder.body or "")
    assert "2027年1月1日" in (reminder.body or "")

    with clock.frozen(REMIND_AT + timedelta(hours=1, minutes=1)):  # every job is due again
        again = await jobs_worker.run_until_idle()
    assert again.jobs == len(JOBS)
    assert len(pushed(fake_fcm, "points.expiring")) == 1
    assert [m.topic for m in await outbox_rows(committed_db)] == ["points.expiring"]
    assert await balance(committed_db, qian) == 30

    with clock.frozen(AFTER_EXPIRY):
        await jobs_worker.run_until_idle()
        qian = await fresh_token(committed_db, qian)
        summary = await committed_client.get("/v1/me/points", headers=qian.headers)
        page = await inbox_page(committed_client, qian)

    assert summary.status_code == 200, summary.text
    assert (summary.json()["total"], summary.json()["available"]) == (0, 0)
    assert await balance(committed_db, qian) == 0
    [lapsed] = pushed(fake_fcm, "points.expired", token)
    assert lapsed.title == "积分已过期"
    assert "30 积分" in (lapsed.body or "")
    assert "2027年1月1日" in (lapsed.body or "")
    assert lapsed.data["entry_id"]
    assert [i["topic"] for i in page["items"]] == ["points.expired", "points.expiring"]
    assert page["items"][0]["data"]["entry_id"] == lapsed.data["entry_id"]


async def test_one_run_until_idle_delivers_what_its_own_jobs_queued(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    jobs_worker: Worker,
    fake_fcm: FakeFcm,
) -> None:
    zheng = await app_user(committed_db, committed_client, "13800000106")
    await points_lapsing(committed_db, zheng, 20)
    await clear_outbox(committed_db)

    with clock.frozen(REMIND_AT):
        await jobs_worker.run_until_idle()

    assert len(pushed(fake_fcm, "points.expiring", zheng.tokens[0])) == 1


# --- sign-in ------------------------------------------------------------------------------------


async def sign_in(
    client: httpx.AsyncClient, sms: SmsGateway, phone: str, device: str
) -> dict[str, str]:
    """The app's SMS sign-in: ask for a code, type in the one texted."""
    sent = await client.post("/v1/auth/sms-codes", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    code = re.search(r"\d{6}", sms.texts[-1]["text"])
    assert code is not None
    signed = await client.post(
        "/v1/auth/sessions/sms",
        json={"phone": phone, "code": code.group(0), "device_name": device},
    )
    assert signed.status_code == 201, signed.text
    return dict(signed.json())


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_a_sign_in_elsewhere_is_pushed_to_the_signed_in_phone_even_at_night(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    worker: Worker,
    fake_fcm: FakeFcm,
    sms: SmsGateway,
) -> None:
    phone = "13800000107"
    token_a, token_b = (f"fcm-{name}:APA91b{uuid.uuid4().hex}" for name in "ab")
    with clock.frozen(NIGHT - timedelta(minutes=5)):
        phone_a = await sign_in(committed_client, sms, phone, "Phone A")
        await register(committed_client, bearer(phone_a), token_a)
    await clear_outbox(committed_db)  # phone A's own sign-in

    with clock.frozen(NIGHT):  # 23:30 in Wujiang
        phone_b = await sign_in(committed_client, sms, phone, "Pixel 9")
        done = await worker.run_until_idle()

    assert done.sent == 1
    [told] = fake_fcm.delivered_to(token_a)
    assert told.data["topic"] == "security.signed_in"
    assert told.data["session_id"] == phone_b["session_id"]
    assert told.title == "新设备登录提醒"
    assert "11月25日 23:30" in (told.body or "")
    assert "设备：Pixel 9" in (told.body or "")
    assert (told.android_priority, told.apns_headers["apns-priority"]) == ("high", "10")
    assert told.android_tag == told.data["notification_id"]

    with clock.frozen(NIGHT + timedelta(minutes=1)):
        await register(committed_client, bearer(phone_b), token_b)
        out = await committed_client.post("/v1/auth/sign-out", headers=bearer(phone_a))
        assert out.status_code == 204, out.text
        devices = await committed_client.get("/v1/me/push-tokens", headers=bearer(phone_b))
    with clock.frozen(NIGHT + timedelta(minutes=3)):
        phone_c = await sign_in(committed_client, sms, phone, "Tablet")
        later = await worker.run_until_idle()

    assert len(devices.json()["items"]) == 1  # phone A's token went with its session
    assert later.sent == 1
    [to_b] = fake_fcm.delivered_to(token_b)
    assert to_b.data["session_id"] == phone_c["session_id"]
    assert len(fake_fcm.delivered_to(token_a)) == 1  # nothing more to the signed-out phone
    assert [m.token for m in fake_fcm.received] == [token_a, token_b]
    assert len(await deliveries(committed_db)) == 2


# --- language -----------------------------------------------------------------------------------


async def test_a_resident_who_chose_english_gets_english(
    committed_db: Database,
    committed_client: httpx.AsyncClient,
    worker: Worker,
    fake_fcm: FakeFcm,
) -> None:
    amy = await app_user(committed_db, committed_client, "13800000108")
    awarder = await staff_member(committed_db, "zhang.min", [("awarder", "songling")])
    async with committed_db.unit_of_work() as session:
        await fund(session, amy.id, 100)
        await add_reward(session)
    await clear_outbox(committed_db)

    chosen = await committed_client.put(
        "/v1/me/language", json={"language": "en"}, headers=amy.headers
    )
    award = await award_by_code(committed_client, awarder, amy)
    redemption = await redeem(committed_client, amy)
    await worker.run_until_idle()

    assert chosen.status_code == 200, chosen.text
    [points_received] = pushed(fake_fcm, "points.awarded")
    assert points_received.data["award_id"] == award["id"]
    assert points_received.title == "Points received"
    assert "You earned 10 points for “Voluntary tree planting”" in (points_received.body or "")
    [redeemed] = pushed(fake_fcm, "rewards.redeemed")
    assert redeemed.data["redemption_id"] == redemption["id"]
    assert redeemed.title == "Reward redeemed"
    assert "“Tote bag”" in (redeemed.body or "")
    page = await inbox_page(committed_client, amy)
    assert [i["title"] for i in page["items"]] == ["Reward redeemed", "Points received"]
    assert all(not re.search(r"[\u4e00-\u9fff]", i["body"]) for i in page["items"])


# --- several workers at once --------------------------------------------------------------------

RESIDENTS, DEVICES, MESSAGES, WORKERS = 40, 2, 3, 4


async def test_several_workers_deliver_every_message_to_every_device_exactly_once(
    committed_db: Database, fcm_settings: Settings, fake_fcm: FakeFcm
) -> None:
    people = [
        await resident(committed_db, f"1370000{i:04d}", tokens=DEVICES) for i in range(RESIDENTS)
    ]
    await clear_outbox(committed_db)
    async with committed_db.unit_of_work() as session:
        for person in people:
            for n in range(MESSAGES):
                await outbox.enqueue(
                    session, topic="points.awarded", resident_id=person.id, payload=awarded(n + 1)
                )
    fake_fcm.latency = 0.002  # sends overlap with the other workers' claims
    workers = [make_worker(committed_db, fcm_settings, worker_batch_size=7) for _ in range(WORKERS)]
    try:
        results = await asyncio.gather(*(w.run_until_idle() for w in workers))
    finally:
        await asyncio.gather(*(w.push.aclose() for w in workers))

    expected = RESIDENTS * DEVICES * MESSAGES
    by_notification = Counter((m.token, m.data["notification_id"]) for m in fake_fcm.delivered)
    by_award = Counter((m.token, m.data["award_id"]) for m in fake_fcm.delivered)
    assert len(fake_fcm.delivered) == expected
    assert set(by_notification.values()) == {1}
    assert set(by_award.values()) == {1}
    assert len(by_award) == expected
    assert {token for token, _ in by_award} == {t for p in people for t in p.tokens}
    assert sum(r.sent for r in results) == expected
    assert sum(r.fanned_out for r in results) == RESIDENTS * MESSAGES
    assert sum(1 for r in results if r.sent) >= 2  # the work was shared, not done by one
    rows = await deliveries(committed_db)
    assert len(rows) == expected
    assert {r.status for r in rows} == {"sent"}
    assert {str(r.id) for r in rows} == {n for _, n in by_notification}
    messages = await outbox_rows(committed_db)
    assert all(m.delivered_at is not None for m in messages)
    inboxes = [item for p in people for item in await inbox_of(committed_db, p.id)]
    assert Counter(item.message_id for item in inboxes) == Counter({m.id: 1 for m in messages})
    for person in people:
        assert len(await inbox_of(committed_db, person.id)) == MESSAGES
