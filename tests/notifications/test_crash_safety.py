"""Killing the worker at any moment loses no message and shows none twice on a device.

The worker runs as a real process (tests/notifications/crash_worker.py) pushing to the fake
FCM, which records every message it receives in a file before answering. The test kills it
with SIGKILL — mid-batch, with FCM holding answers back, and at a random moment of a busy
run — then starts a fresh worker and checks, from the database and from what FCM received:
every message is in its resident's inbox exactly once, every delivery ends `sent`, no
delivery recorded as sent before the kill is sent again, and the only messages FCM saw twice
are those of the one batch in flight when the worker died, resent under the same
notification id (the Android tag and APNs collapse id), so the phone shows each once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import clock
from core.db import Database
from notifications import preferences, sending
from notifications.fanout import fan_out
from notifications.models import Delivery, InboxItem
from tests.notifications.worker_kit import (
    awarded,
    clear_outbox,
    deliveries,
    make_worker,
    notify,
    resident,
)

ROOT = Path(__file__).resolve().parents[2]
BATCH = 20
LEASE_SECONDS = 2


def start_worker(record: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WUJIANG_SMS_GATEWAY_URL": "https://sms.example.test/send",
        "WUJIANG_SMS_GATEWAY_TOKEN": "unused",
        "WUJIANG_WORKER_BATCH_SIZE": str(BATCH),
        "WUJIANG_NOTIFY_LEASE_SECONDS": str(LEASE_SECONDS),
        "WUJIANG_WORKER_POLL_SECONDS": "0.05",
        "WUJIANG_LOG_LEVEL": "WARNING",
        # No quiet hours (start == end): these tests run on the real clock, and notices held
        # for the morning would leave nothing to deliver between 22:00 and 08:00 in Wujiang.
        "WUJIANG_NOTIFY_QUIET_START": "00:00",
        "WUJIANG_NOTIFY_QUIET_END": "00:00",
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.notifications.crash_worker", str(record), *args],
        cwd=ROOT,
        env=env,
    )


def received(record: Path) -> list[tuple[str, str]]:
    if not record.exists():
        return []
    lines = record.read_text().splitlines()
    return [tuple(json.loads(line)) for line in lines if line.endswith("]")]  # type: ignore[misc]


async def wait_for(condition) -> None:
    """Until `condition()` holds; fails after a minute."""
    async with asyncio.timeout(60):
        while not condition():  # noqa: ASYNC110 - polling a file another process writes
            await asyncio.sleep(0.02)


async def queue(database: Database, residents: int, devices: int, messages: int) -> set[str]:
    """Residents with devices and `messages` notices each; the tokens."""
    tokens: set[str] = set()
    made = []
    for i in range(residents):
        someone = await resident(database, f"1390000{i:04d}", tokens=devices)
        tokens.update(someone.tokens)
        made.append(someone)
    await clear_outbox(database)
    for someone in made:
        for _ in range(messages):
            await notify(database, someone.id, "points.awarded", **awarded())
    return tokens


async def sent_ids(database: Database) -> set[str]:
    async with database.unit_of_work() as session:
        rows = await session.execute(select(Delivery.id).where(Delivery.status == "sent"))  # type: ignore[arg-type]
        return {str(i) for i in rows.scalars()}


async def check_everything_arrived_once(
    database: Database, record: Path, messages: int, deliveries: int, sent_before: set[str]
) -> Counter[tuple[str, str]]:
    async with database.unit_of_work() as session:
        inbox = (await session.execute(select(func.count()).select_from(InboxItem))).scalar_one()
        per_message = await session.execute(
            select(InboxItem.message_id, func.count()).group_by(InboxItem.message_id)  # type: ignore[arg-type]
        )
        statuses = Counter(
            (await session.execute(select(Delivery.status))).scalars()  # type: ignore[call-overload]
        )
    assert inbox == messages
    assert {count for _, count in per_message} == {1}
    assert statuses == {"sent": deliveries}
    seen = Counter(received(record))
    assert len(seen) == deliveries  # every (device, notification) reached FCM
    twice = {notification for (_, notification), count in seen.items() if count > 1}
    assert max(seen.values()) <= 2
    assert not twice & sent_before  # what was recorded as sent never went again
    assert len(twice) <= BATCH  # only the batch in flight at the kill
    return seen


async def test_killed_mid_batch_then_restarted(committed_db: Database, tmp_path: Path) -> None:
    await queue(committed_db, residents=10, devices=2, messages=3)  # 30 messages, 60 deliveries
    record = tmp_path / "fcm.jsonl"
    # FCM answers the first 50 sends, then only listens: the third batch hangs half-answered.
    first = start_worker(record, "--block-after", "50")
    try:
        await wait_for(lambda: len(received(record)) >= 3 * BATCH)
        await asyncio.sleep(0.2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    sent_before = await sent_ids(committed_db)
    assert len(sent_before) == 2 * BATCH  # two batches recorded, the third in doubt

    await asyncio.sleep(LEASE_SECONDS + 0.5)  # the dead worker's lease runs out
    second = start_worker(record, "--until-idle")
    assert second.wait(timeout=120) == 0

    seen = await check_everything_arrived_once(committed_db, record, 30, 60, sent_before)
    resent = [key for key, count in seen.items() if count == 2]
    assert len(resent) == BATCH  # the hung batch, sent again under the same notification ids


@pytest.mark.parametrize("seed", [1, 2])
async def test_killed_at_a_random_moment_then_restarted(
    committed_db: Database, tmp_path: Path, seed: int
) -> None:
    await queue(committed_db, residents=20, devices=2, messages=5)  # 100 messages, 200 deliveries
    record = tmp_path / "fcm.jsonl"
    first = start_worker(record, "--latency", "0.01")
    try:
        # Somewhere between the first message reaching FCM and the last.
        target = random.Random(seed).randint(1, 190)
        await wait_for(lambda: len(received(record)) >= target)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    sent_before = await sent_ids(committed_db)

    await asyncio.sleep(LEASE_SECONDS + 0.5)
    second = start_worker(record, "--until-idle")
    assert second.wait(timeout=120) == 0

    await check_everything_arrived_once(committed_db, record, 100, 200, sent_before)


def test_the_record_reader_ignores_a_line_cut_by_the_kill(tmp_path: Path) -> None:
    record = tmp_path / "fcm.jsonl"
    record.write_text(json.dumps(["t", str(uuid.uuid4())]) + '\n["t", "cut')
    assert len(received(record)) == 1


async def test_a_worker_that_outlived_its_lease_cannot_overwrite_the_next_attempt(
    committed_db: Database, fcm_settings, fake_fcm
) -> None:
    someone = await resident(committed_db, "13911112222")
    await clear_outbox(committed_db)
    await notify(committed_db, someone.id, "points.awarded", **awarded())
    worker = make_worker(committed_db, fcm_settings)
    # 10:00 in Wujiang tomorrow: after the notice was queued, and outside the quiet hours.
    daytime = (clock.now() + timedelta(days=1)).replace(hour=2, minute=0, second=0)
    try:
        with clock.frozen(daytime):
            async with committed_db.unit_of_work() as session:
                await fan_out(session, limit=10, timezone="Asia/Shanghai")
            async with committed_db.unit_of_work() as session:  # a worker claims, then stalls
                [stalled] = await sending.claim(session, limit=10, lease=timedelta(seconds=60))
            assert (await worker.run_until_idle()).claimed == 0  # leased: nobody else takes it
            clock.advance(timedelta(seconds=61))
            assert (await worker.run_until_idle()).sent == 1  # lease over: claimed again, sent
            # The stalled worker wakes up and reports a failure for its old attempt: ignored.
            async with committed_db.unit_of_work() as session:
                late = sending.Outcome(stalled, "retry", "HTTP 502")
                choices = await preferences.for_residents(session, [someone.id])
                await sending.record(session, [late], choices, fcm_settings, sending.Round())
        [row] = await deliveries(committed_db)
        assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
        assert len(fake_fcm.delivered_to(someone.tokens[0])) == 1
    finally:
        await worker.push.aclose()
