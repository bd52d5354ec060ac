"""`wujiang worker` and `wujiang outbox …` on a scratch database: one pass with the pushes only
logged (no FCM credentials) or sent through the faked FCM, dead letters listed without personal
data and requeued, and the long-running worker stopping cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from typer.testing import CliRunner

from cli.main import app
from core import clock
from core.settings import get_settings
from notifications import devices, outbox
from notifications.models import Delivery, InboxItem, OutboxMessage
from notifications.push import CONSOLE_BANNER
from points.jobs import JOBS
from tests.notifications.fcm_mock import SERVICE_ACCOUNT_JSON, FakeFcm
from tests.notifications.worker_kit import SMS_URL, awarded
from tests.points.factories import committed
from tests.points_actors import make_resident

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
WUJIANG = Path(sys.executable).with_name("wujiang")
# 10:00 in Wujiang: pushes that are not urgent go out at once (quiet hours are 22:00-08:00).
DAYTIME = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
PHONE = "13912340001"
WIDE = {"COLUMNS": "220"}  # a terminal wide enough for the dead-letter table's ids


@pytest.fixture
def cli_env(migrated_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The migrated scratch database, an SMS gateway configured (as env=test requires; respx
    refuses anything really sent) and no FCM credentials; the clock at 10:00 in Wujiang."""
    monkeypatch.setenv("WUJIANG_SMS_GATEWAY_URL", SMS_URL)
    monkeypatch.setenv("WUJIANG_SMS_GATEWAY_TOKEN", "sms-secret")
    monkeypatch.delenv("WUJIANG_FCM_CREDENTIALS_JSON", raising=False)
    monkeypatch.delenv("WUJIANG_FCM_CREDENTIALS_FILE", raising=False)
    get_settings.cache_clear()
    with clock.frozen(DAYTIME):
        yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def logging_put_back() -> Iterator[None]:
    """`wujiang worker` configures structlog (JSON lines); the configuration before the test is
    put back, so later tests log as usual."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def log_lines(stderr: str) -> list[dict[str, Any]]:
    """The worker's log: one JSON object per line."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def configure(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def device_token() -> str:
    return f"cli-device:APA91b{uuid.uuid4().hex}{uuid.uuid4().hex}"


def resident_with_device(token: str, *, keep_sign_in_notice: bool = True) -> uuid.UUID:
    """A resident signed in on one device; their sign-in notice stays queued unless told."""

    async def work(session: AsyncSession) -> uuid.UUID:
        actor = await make_resident(session, phone=PHONE)
        await devices.register(
            session, resident_id=actor.id, session_id=None, token=token, platform="android"
        )
        if not keep_sign_in_notice:
            await session.execute(OutboxMessage.__table__.delete())  # type: ignore[attr-defined]
        return actor.id

    return committed(work)


def queue(resident_id: uuid.UUID, topic: str, **payload: Any) -> None:
    async def work(session: AsyncSession) -> None:
        await outbox.enqueue(session, topic=topic, resident_id=resident_id, payload=payload)

    committed(work)


def delivery_rows() -> list[tuple[uuid.UUID, str, str, int]]:
    """(id, topic, status, attempts) of every delivery."""

    async def work(session: AsyncSession) -> list[tuple[uuid.UUID, str, str, int]]:
        rows = await session.execute(select(Delivery).order_by(col(Delivery.created_at)))
        return [(d.id, d.topic, d.status, d.attempts) for d in rows.scalars()]

    return committed(work)


def dead_messages() -> list[uuid.UUID]:
    async def work(session: AsyncSession) -> list[uuid.UUID]:
        rows = await session.execute(
            select(col(OutboxMessage.id)).where(col(OutboxMessage.dead_at).is_not(None))
        )
        return list(rows.scalars())

    return committed(work)


def inbox_count() -> int:
    async def work(session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(InboxItem)) or 0)

    return committed(work)


# --- wujiang worker --once -----------------------------------------------------------------------


@pytest.mark.parametrize("env", ["test", "development"])
def test_once_without_fcm_credentials_logs_each_push_with_the_token_masked(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, fake_fcm: FakeFcm, env: str
) -> None:
    if env == "development":  # nothing configured at all: pushes and texts go to the log
        monkeypatch.delenv("WUJIANG_SMS_GATEWAY_URL")
        monkeypatch.delenv("WUJIANG_SMS_GATEWAY_TOKEN")
    configure(monkeypatch, WUJIANG_ENV=env)
    token = device_token()
    resident_id = resident_with_device(token)
    queue(resident_id, "points.awarded", **awarded(20))

    result = runner.invoke(app, ["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "fanned out 2 message(s); sent 2, retrying 0, dead 0, dropped 0" in result.stdout
    assert f"ran {len(JOBS)} job(s)" in result.stdout
    pushes = [line for line in log_lines(result.stderr) if line["event"] == "push.console"]
    assert sorted(line["title"] for line in pushes) == ["新设备登录提醒", "积分到账"]
    for line in pushes:
        assert line["banner"] == CONSOLE_BANNER
        assert line["to"] == token[:6] + "…"
    assert token not in result.output
    assert fake_fcm.received == []  # logged, not sent
    assert sorted((topic, status) for _, topic, status, _ in delivery_rows()) == [
        ("points.awarded", "sent"),
        ("security.signed_in", "sent"),
    ]
    assert inbox_count() == 2


def test_once_with_fcm_credentials_pushes_through_fcm(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, fake_fcm: FakeFcm
) -> None:
    configure(monkeypatch, WUJIANG_FCM_CREDENTIALS_JSON=SERVICE_ACCOUNT_JSON)
    token = device_token()
    resident_id = resident_with_device(token, keep_sign_in_notice=False)
    award = awarded(20)
    queue(resident_id, "points.awarded", **award)

    result = runner.invoke(app, ["worker", "--once", "--no-jobs"])

    assert result.exit_code == 0, result.output
    assert "fanned out 1 message(s); sent 1, retrying 0, dead 0, dropped 0; ran 0 job(s)" in (
        result.output
    )
    [got] = fake_fcm.delivered_to(token)
    assert got.data["award_id"] == award["award_id"]
    assert got.title == "积分到账"
    assert fake_fcm.token_fetches == 1
    assert "push.sent" in [line["event"] for line in log_lines(result.stderr)]
    assert "push.console" not in result.output
    assert token not in result.output
    [(_, _, status, attempts)] = delivery_rows()
    assert (status, attempts) == ("sent", 1)
    assert inbox_count() == 1


# --- wujiang outbox ------------------------------------------------------------------------------


def test_dead_letters_are_listed_without_personal_data_and_requeued(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, fake_fcm: FakeFcm
) -> None:
    configure(
        monkeypatch,
        WUJIANG_FCM_CREDENTIALS_JSON=SERVICE_ACCOUNT_JSON,
        WUJIANG_NOTIFY_MAX_ATTEMPTS="1",
    )
    token = device_token()
    fake_fcm.fail(token, "unavailable", times=1)  # 502: one attempt is all it gets
    resident_id = resident_with_device(token, keep_sign_in_notice=False)
    queue(resident_id, "no.such.topic", note="from an older release")
    queue(resident_id, "points.awarded", **awarded(20))

    none_yet = runner.invoke(app, ["outbox", "dead"])
    ran = runner.invoke(app, ["worker", "--once", "--no-jobs"])
    listed = runner.invoke(app, ["outbox", "dead"], env=WIDE)

    assert none_yet.exit_code == 0, none_yet.output
    assert "no dead letters" in none_yet.output
    assert ran.exit_code == 0, ran.output
    assert "sent 0, retrying 0, dead 2, dropped 0" in ran.output
    [(delivery_id, _, status, _)] = delivery_rows()
    [message_id] = dead_messages()
    assert status == "dead"
    assert listed.exit_code == 0, listed.output
    for expected in (str(delivery_id), str(message_id), "no.such.topic", "points.awarded"):
        assert expected in listed.output
    assert "HTTP 502" in listed.output
    assert "no topic 'no.such.topic' is known" in listed.output
    for secret in (token, token[:20], PHONE, PHONE[-4:] + " "):
        assert secret not in listed.output

    one = runner.invoke(app, ["outbox", "requeue", str(delivery_id)])

    assert one.exit_code == 0, one.output
    assert "requeued 1 dead letter(s)" in one.output
    [(_, _, status, attempts)] = delivery_rows()
    assert (status, attempts) == ("pending", 0)
    left = runner.invoke(app, ["outbox", "dead"], env=WIDE)
    assert str(message_id) in left.output
    assert str(delivery_id) not in left.output

    rest = runner.invoke(app, ["outbox", "requeue", "--all"])
    again = runner.invoke(app, ["worker", "--once", "--no-jobs"])

    assert rest.exit_code == 0, rest.output
    assert "requeued 1 dead letter(s)" in rest.output
    # The delivery goes now; the message dies again: its topic is still unknown.
    assert "fanned out 1 message(s); sent 1, retrying 0, dead 1, dropped 0" in again.output
    assert len(fake_fcm.delivered_to(token)) == 1
    assert [row[2] for row in delivery_rows()] == ["sent"]
    assert dead_messages() == [message_id]


def test_a_dead_delivery_is_listed_at_the_time_it_died(
    cli_env: None, monkeypatch: pytest.MonkeyPatch, fake_fcm: FakeFcm
) -> None:
    configure(
        monkeypatch,
        WUJIANG_FCM_CREDENTIALS_JSON=SERVICE_ACCOUNT_JSON,
        WUJIANG_NOTIFY_MAX_ATTEMPTS="1",
    )
    token = device_token()
    fake_fcm.fail(token, "unavailable")
    resident_id = resident_with_device(token, keep_sign_in_notice=False)
    queue(resident_id, "points.awarded", **awarded(20))

    ran = runner.invoke(app, ["worker", "--once", "--no-jobs"])
    listed = runner.invoke(app, ["outbox", "dead"], env=WIDE)

    assert "dead 1" in ran.stdout
    [row] = [line for line in listed.stdout.splitlines() if "delivery" in line]
    assert f"{DAYTIME:%Y-%m-%d %H:%M:%S}" in row  # the clock stood still while it died


def test_requeue_needs_ids_or_all_and_an_unknown_id_requeues_nothing(cli_env: None) -> None:
    neither = runner.invoke(app, ["outbox", "requeue"])
    unknown = runner.invoke(app, ["outbox", "requeue", str(uuid.uuid4())])
    not_an_id = runner.invoke(app, ["outbox", "requeue", "13912340001"])
    nothing = runner.invoke(app, ["outbox", "requeue", "--all"])

    assert neither.exit_code == 2, neither.output
    assert "Name dead letter ids, or pass --all." in neither.output
    assert unknown.exit_code == 0, unknown.output
    assert "requeued 0 dead letter(s)" in unknown.output
    assert not_an_id.exit_code == 2
    assert nothing.exit_code == 0, nothing.output
    assert "requeued 0 dead letter(s)" in nothing.output


# --- wujiang worker (until stopped) ------------------------------------------------------------


def wait_for_sent(process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until the worker process has recorded a delivery as sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the worker exited on its own"
        if any(status == "sent" for _, _, status, _ in delivery_rows()):
            return
        time.sleep(0.2)
    pytest.fail("the worker sent nothing within a minute")


def test_the_worker_stops_cleanly_on_sigterm(
    migrated_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    get_settings.cache_clear()
    token = device_token()
    # The resident's sign-in notice is urgent: sent whatever the local time (the process's
    # clock is not frozen), through the log (no FCM credentials).
    resident_with_device(token)
    env = {
        name: value for name, value in os.environ.items() if not name.startswith("WUJIANG_FCM_")
    } | {
        "WUJIANG_SMS_GATEWAY_URL": "http://127.0.0.1:9/never-called",
        "WUJIANG_SMS_GATEWAY_TOKEN": "unused",
        "WUJIANG_WORKER_POLL_SECONDS": "0.2",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the project's own entry point
            [str(WUJIANG), "worker"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for_sent(process)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    written = log.read_text(encoding="utf-8")
    assert code == 0, written
    assert "worker.started" in written
    assert "worker.stopped" in written
    assert "Traceback" not in written
    assert CONSOLE_BANNER in written
    assert token[:6] + "…" in written
    assert token not in written
    assert [row[2] for row in delivery_rows()] == ["sent"]
