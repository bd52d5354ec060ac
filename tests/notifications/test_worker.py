"""The worker end to end: outbox → fan-out → inbox, FCM (faked over respx) and the SMS gateway
(respx), with preferences, quiet hours, languages, invalid tokens, retries and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import clock
from core.db import Database
from core.settings import Settings
from notifications import dead_letters, devices, preferences
from notifications.models import Device
from notifications.schemas import PreferencesIn
from notifications.worker import Worker
from tests.notifications.fcm_mock import FakeFcm
from tests.notifications.worker_kit import (
    SmsGateway,
    awarded,
    clear_outbox,
    deliveries,
    inbox_of,
    make_worker,
    notify,
    outbox_rows,
    resident,
)

# 10:00 in Wujiang: outside the default quiet hours (22:00-08:00 Asia/Shanghai).
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
# 23:30 in Wujiang.
NIGHT = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 local


def signed_in(at: datetime) -> dict[str, str | None]:
    return {
        "session_id": str(uuid.uuid4()),
        "channel": "tv",
        "device_name": None,
        "at": at.isoformat(),
    }


@pytest.fixture(autouse=True)
def daytime() -> Iterator[None]:
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
def sms(fake_fcm: FakeFcm) -> SmsGateway:
    return SmsGateway(fake_fcm)


async def test_a_notice_reaches_every_device_once_and_the_inbox(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    ming = await resident(committed_db, "13800000001", tokens=2)
    await clear_outbox(committed_db)
    await notify(committed_db, ming.id, "points.awarded", **awarded(20))

    done = await worker.run_until_idle()

    assert (done.fanned_out, done.sent) == (1, 2)
    for token in ming.tokens:
        [got] = fake_fcm.delivered_to(token)
        assert got.title == "积分到账"
        assert "垃圾分类" in (got.body or "")
        assert "20" in (got.body or "")
        assert got.data["topic"] == "points.awarded"
        assert got.android_tag == got.data["notification_id"]  # the device shows it once
    [item] = await inbox_of(committed_db, ming.id)
    assert item.title == "积分到账"
    assert item.read_at is None
    assert {d.status for d in await deliveries(committed_db)} == {"sent"}
    assert all(m.delivered_at is not None for m in await outbox_rows(committed_db))
    assert (await worker.run_until_idle()).sent == 0  # nothing goes out twice


async def test_english_speakers_get_english(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    amy = await resident(committed_db, "13800000002", language="en")
    await clear_outbox(committed_db)
    await notify(committed_db, amy.id, "points.awarded", **awarded(1))

    await worker.run_until_idle()

    [got] = fake_fcm.delivered_to(amy.tokens[0])
    assert "point" in (got.body or "")
    assert "Waste sorting" in (got.body or "")
    [item] = await inbox_of(committed_db, amy.id)
    assert item.body == got.body


async def test_quiet_hours_hold_pushes_until_morning_but_not_security_notices(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    hua = await resident(committed_db, "13800000003")
    await clear_outbox(committed_db)
    with clock.frozen(NIGHT):
        await notify(committed_db, hua.id, "points.awarded", **awarded())
        await notify(committed_db, hua.id, "security.signed_in", **signed_in(NIGHT))
        await worker.run_until_idle()
        sent = fake_fcm.delivered_to(hua.tokens[0])
        assert [m.data["topic"] for m in sent] == ["security.signed_in"]
        assert sent[0].android_priority == "high"
        # The inbox has both at once: it is read when the resident chooses.
        assert len(await inbox_of(committed_db, hua.id)) == 2
        held = [d for d in await deliveries(committed_db) if d.status == "pending"]
        assert [d.available_at for d in held] == [NEXT_MORNING]
    with clock.frozen(NEXT_MORNING - timedelta(minutes=1)):
        assert (await worker.run_until_idle()).sent == 0
    with clock.frozen(NEXT_MORNING):
        assert (await worker.run_until_idle()).sent == 1
    assert [m.data["topic"] for m in fake_fcm.delivered_to(hua.tokens[0])] == [
        "security.signed_in",
        "points.awarded",
    ]


async def test_a_resident_can_switch_a_topic_off_but_never_security(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    li = await resident(committed_db, "13800000004")
    await clear_outbox(committed_db)
    async with committed_db.unit_of_work() as session:
        await preferences.update(
            session,
            resident_id=li.id,
            change=PreferencesIn.model_validate({"groups": {"points": {"push": False}}}),
        )
    await notify(committed_db, li.id, "points.awarded", **awarded())
    await notify(committed_db, li.id, "security.signed_in", **signed_in(DAYTIME))

    await worker.run_until_idle()

    assert [m.data["topic"] for m in fake_fcm.delivered_to(li.tokens[0])] == ["security.signed_in"]
    assert len(await inbox_of(committed_db, li.id)) == 2  # the inbox keeps everything


async def test_residents_without_the_app_get_a_text_for_what_they_must_not_miss(
    committed_db: Database, worker: Worker, sms: SmsGateway
) -> None:
    wang = await resident(committed_db, "13800000005", tokens=0)
    await clear_outbox(committed_db)
    await notify(
        committed_db,
        wang.id,
        "points.expiring",
        points=50,
        last_day="2026-12-31",
        expires_at="2026-12-31T16:00:00+00:00",
    )
    await notify(committed_db, wang.id, "points.awarded", **awarded())  # not worth a text

    await worker.run_until_idle()

    [text] = sms.texts
    assert text["phone"].endswith("13800000005")
    assert text["text"].startswith("【智慧吴江】")
    assert "50" in text["text"]
    assert len(await inbox_of(committed_db, wang.id)) == 2


async def test_a_failing_sms_gateway_is_retried(
    committed_db: Database, worker: Worker, sms: SmsGateway
) -> None:
    zhao = await resident(committed_db, "13800000006", tokens=0)
    await clear_outbox(committed_db)
    sms.fail_next = 1
    await notify(
        committed_db,
        zhao.id,
        "security.refresh_token_reused",
        session_id=str(uuid.uuid4()),
        at=DAYTIME.isoformat(),
    )

    first = await worker.run_until_idle()
    assert (first.sent, first.retried) == (0, 1)
    [waiting] = await deliveries(committed_db)
    assert waiting.status == "pending"
    assert waiting.available_at > DAYTIME
    with clock.frozen(waiting.available_at):
        assert (await worker.run_until_idle()).sent == 1
    assert len(sms.texts) == 1


async def test_tokens_fcm_reports_invalid_are_removed_and_the_rest_delivered(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    chen = await resident(committed_db, "13800000007", tokens=3)
    gone, bad, good = chen.tokens
    fake_fcm.fail(gone, "unregistered")
    fake_fcm.fail(bad, "invalid_argument")
    await clear_outbox(committed_db)
    await notify(committed_db, chen.id, "points.awarded", **awarded())

    done = await worker.run_until_idle()

    assert (done.sent, done.dropped, done.retried) == (1, 2, 0)
    assert len(fake_fcm.delivered_to(good)) == 1
    async with committed_db.unit_of_work() as session:
        left = (await session.execute(select(Device.token))).scalars().all()
        owned = await devices.tokens_for(session, [chen.id])
    assert left == [good]
    assert [d.token for d in owned[chen.id]] == [good]
    statuses = sorted(d.status for d in await deliveries(committed_db))
    assert statuses == ["dropped", "dropped", "sent"]


async def test_retry_after_is_honoured_then_the_message_goes(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    zhou = await resident(committed_db, "13800000008")
    fake_fcm.fail(zhou.tokens[0], "quota", retry_after="600", times=1)
    await clear_outbox(committed_db)
    await notify(committed_db, zhou.id, "points.awarded", **awarded())

    assert (await worker.run_until_idle()).retried == 1
    [waiting] = await deliveries(committed_db)
    assert waiting.available_at >= DAYTIME + timedelta(seconds=600)
    assert waiting.last_error == "QUOTA_EXCEEDED"
    with clock.frozen(DAYTIME + timedelta(seconds=599)):
        assert (await worker.run_until_idle()).claimed == 0
    with clock.frozen(waiting.available_at):
        assert (await worker.run_until_idle()).sent == 1
    assert len(fake_fcm.delivered_to(zhou.tokens[0])) == 1


async def test_after_the_last_attempt_a_delivery_is_dead_and_can_be_requeued(
    committed_db: Database, fcm_settings: Settings, fake_fcm: FakeFcm
) -> None:
    wu = await resident(committed_db, "13800000009")
    fake_fcm.fail(wu.tokens[0], "unavailable", times=3)
    await clear_outbox(committed_db)
    await notify(committed_db, wu.id, "points.awarded", **awarded())
    worker = make_worker(committed_db, fcm_settings, notify_max_attempts=3)
    try:
        for attempt in range(1, 4):
            done = await worker.run_until_idle()
            [row] = await deliveries(committed_db)
            assert row.attempts == attempt
            clock.advance(timedelta(hours=2))  # past any backoff
        assert (done.dead, row.status, row.last_error) == (1, "dead", "HTTP 502")
        async with committed_db.unit_of_work() as session:
            [letter] = await dead_letters.list_dead(session)
        assert (letter.kind, letter.id, letter.attempts) == ("delivery", row.id, 3)
        assert (await worker.run_until_idle()).claimed == 0  # dead stays dead

        async with committed_db.unit_of_work() as session:
            assert await dead_letters.requeue(session, ids=[row.id]) == 1
        assert (await worker.run_until_idle()).sent == 1
        assert len(fake_fcm.delivered_to(wu.tokens[0])) == 1
    finally:
        await worker.push.aclose()


async def test_a_message_that_cannot_be_rendered_is_dead_lettered_not_sent_blank(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    sun = await resident(committed_db, "13800000010")
    await clear_outbox(committed_db)
    await notify(committed_db, sun.id, "points.awarded", points=5)  # fields missing
    await notify(committed_db, sun.id, "no.such.topic")
    await notify(committed_db, sun.id, "points.awarded", **awarded())

    done = await worker.run_until_idle()

    assert (done.dead, done.sent) == (2, 1)
    assert len(fake_fcm.delivered_to(sun.tokens[0])) == 1
    assert len(await inbox_of(committed_db, sun.id)) == 1
    async with committed_db.unit_of_work() as session:
        letters = await dead_letters.list_dead(session)
    assert sorted(letter.topic for letter in letters) == ["no.such.topic", "points.awarded"]
    assert all(letter.kind == "message" and letter.error for letter in letters)
    assert "award_id" in next(x.error for x in letters if x.topic == "points.awarded")


async def test_a_device_signed_out_before_sending_gets_nothing(
    committed_db: Database, worker: Worker, fake_fcm: FakeFcm
) -> None:
    qian = await resident(committed_db, "13800000011")
    await clear_outbox(committed_db)
    with clock.frozen(NIGHT):
        await notify(committed_db, qian.id, "points.awarded", **awarded())
        await worker.run_until_idle()  # held for the morning
    async with committed_db.unit_of_work() as session:
        owned = await devices.tokens_for(session, [qian.id])
        await devices.drop(session, [d.id for d in owned[qian.id]])
    with clock.frozen(NEXT_MORNING):
        done = await worker.run_until_idle()
    assert (done.sent, done.dropped) == (0, 1)
    assert fake_fcm.received == []
