"""Notification delivery throughput on PostgreSQL (run by hand, not a test): messages per
second that 1 and 4 `wujiang worker` processes deliver to a mock FCM endpoint, and the time to
drain a backlog of 100,000 queued messages.

    .venv/bin/python bench/notify_bench.py                        # 20k per phase, 100k backlog
    .venv/bin/python bench/notify_bench.py --messages 5000 --backlog 20000 --latency-ms 20
    .venv/bin/python bench/notify_bench.py --help

It creates a scratch database `wujiang_notifybench_<hex>` next to `--url` (an admin URL; default
`$WUJIANG_DATABASE_URL`, else `postgresql+asyncpg://postgres@127.0.0.1:5432/test`), migrates
it, and makes `--residents` residents with one push token each. Each phase queues `points.awarded`
outbox rows the way awards do, then starts the worker processes (this file with `--child`), each
running the real worker (fan-out, claim with SKIP LOCKED, firebase-admin's `send_each_async`,
recording) until nothing is due. FCM is mocked inside each worker process with respx (OAuth token
endpoint and `messages:send`), answering after `--latency-ms` (default 50 ms, about what FCM
takes), so the HTTP path through the SDK and httpx is real and only the network is not. The
clock starts once every worker process has started up (imports, Firebase app), and a phase
ends when every worker has found nothing left and exited; it then
checks that every message has exactly one inbox row and one `sent` delivery, and prints the rate.
The ratio 4 workers / 1 worker in the same run is the figure to compare across machines. The
scratch database is dropped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

PROJECT = "wujiang-bench"


@dataclass(frozen=True)
class Phase:
    label: str
    workers: int
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "WUJIANG_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--messages", type=int, default=20_000, help="Messages per phase.")
    parser.add_argument("--backlog", type=int, default=100_000, help="0 skips the drain.")
    parser.add_argument("--residents", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=50.0, help="Mock FCM answer time.")
    parser.add_argument("--batch", type=int, default=200, help="WUJIANG_WORKER_BATCH_SIZE.")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the worker process -------------------------------------------------------------------


def service_account() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "bench",
        "private_key": pem,
        "client_email": f"bench@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


async def child(latency: float) -> None:
    import httpx
    import respx

    from cli.worker import worker_parts
    from core.db import Database
    from core.logging import configure_logging
    from core.settings import get_settings
    from notifications.worker import Worker

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(latency)
        return httpx.Response(200, json={"name": f"projects/{PROJECT}/messages/{uuid.uuid4()}"})

    settings = get_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://oauth2.googleapis.com/token").respond(
            200, json={"access_token": "bench-token", "expires_in": 3600, "token_type": "Bearer"}
        )
        mock.post(f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send").mock(
            side_effect=answer
        )
        database = Database(settings)
        push, sms = worker_parts(settings)
        worker = Worker(database, settings, push=push, sms=sms)
        # Imports and start-up done: tell the driver, and start when every worker is ready.
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        try:
            await worker.run_until_idle(max_rounds=1_000_000)
        finally:
            await push.aclose()
            await database.dispose()


# --- the driver ---------------------------------------------------------------------------


async def seed_residents(url: str, count: int) -> list[uuid.UUID]:
    from sqlalchemy import insert

    from core import clock
    from core.db import Database
    from core.ids import new_id
    from core.settings import get_settings
    from identity.models import Resident
    from notifications.models import Device

    database = Database(get_settings())
    keyring = get_settings().keyring
    now = clock.now()
    ids = [new_id() for _ in range(count)]
    residents = [
        {
            "id": rid,
            "phone_token": keyring.encrypt(f"+86137{i:08d}", context="resident.phone"),
            "phone_index": keyring.blind_index(f"+86137{i:08d}", context="resident.phone"),
            "assurance": "phone",
            "language": "zh" if i % 3 else "en",
            "created_at": now,
            "updated_at": now,
        }
        for i, rid in enumerate(ids)
    ]
    devices = [
        {
            "id": new_id(),
            "resident_id": rid,
            "session_id": None,
            "token": f"bench-token-{i:08d}-" + "x" * 140,
            "token_hash": f"{i:064d}",
            "platform": "android",
            "created_at": now,
            "last_seen_at": now,
        }
        for i, rid in enumerate(ids)
    ]
    try:
        async with database.unit_of_work() as session:
            await session.execute(insert(Resident.__table__), residents)  # type: ignore[attr-defined]
            await session.execute(insert(Device.__table__), devices)  # type: ignore[attr-defined]
    finally:
        await database.dispose()
    return ids


async def enqueue(residents: list[uuid.UUID], count: int) -> None:
    from core.db import Database
    from core.settings import get_settings
    from notifications import outbox

    database = Database(get_settings())
    try:
        for start in range(0, count, 5_000):
            rows = [
                outbox.message(
                    topic="points.awarded",
                    resident_id=residents[i % len(residents)],
                    payload={
                        "award_id": str(uuid.uuid4()),
                        "points": 5,
                        "behaviour": "garbage-sorting",
                        "title_zh": "垃圾分类",
                        "title_en": "Waste sorting",
                        "category": "green",
                        "expires_at": "2027-12-31T15:59:59+00:00",
                    },
                )
                for i in range(start, min(start + 5_000, count))
            ]
            async with database.unit_of_work() as session:
                await outbox.enqueue_many(session, rows)
    finally:
        await database.dispose()


async def counts() -> tuple[int, int, int, int]:
    """(undelivered outbox rows, inbox rows, sent deliveries, deliveries not sent)."""
    from sqlalchemy import text

    from core.db import Database
    from core.settings import get_settings

    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM outbox_message WHERE delivered_at IS NULL),"
                        " (SELECT count(*) FROM notification_inbox),"
                        " (SELECT count(*) FROM notification_delivery WHERE status = 'sent'),"
                        " (SELECT count(*) FROM notification_delivery WHERE status <> 'sent')"
                    )
                )
            ).one()
    finally:
        await database.dispose()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def run_phase(label: str, workers: int, messages: int, residents: list[uuid.UUID], opts) -> Phase:
    before = asyncio.run(counts())
    asyncio.run(enqueue(residents, messages))
    env = {**os.environ, "WUJIANG_WORKER_BATCH_SIZE": str(opts.batch)}
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "--latency-ms", str(opts.latency_ms)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for proc in procs:  # the clock starts when every worker has started up
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - started
    after = asyncio.run(counts())
    if any(codes):
        raise SystemExit(f"{label}: a worker failed: exit codes {codes}")
    _, inbox, sent, _ = (a - b for a, b in zip(after, before, strict=True))
    if (after[0], inbox, sent, after[3]) != (0, messages, messages, 0):
        raise SystemExit(
            f"{label}: expected {messages} inbox rows and sent deliveries, nothing left; got "
            f"undelivered={after[0]} inbox={inbox} sent={sent} unsent={after[3]}"
        )
    phase = Phase(label, workers, messages, seconds)
    print(f"{label:<28} {messages:>8,} msgs  {seconds:8.1f} s  {phase.rate:8.0f} msg/s", flush=True)
    return phase


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.child:
        asyncio.run(child(opts.latency_ms / 1000))
        return 0
    import ledger_bench as lb

    from core.migrate import migrate

    os.environ["WUJIANG_FCM_CREDENTIALS_JSON"] = json.dumps(service_account())
    os.environ["WUJIANG_ENV"] = "development"
    os.environ.setdefault("WUJIANG_LOG_LEVEL", "WARNING")
    with lb.scratch_database(opts.url, "wujiang_notifybench") as name:
        url = lb.database_url(opts.url, name)
        os.environ["WUJIANG_DATABASE_URL"] = url
        asyncio.run(migrate(url))
        residents = asyncio.run(seed_residents(url, opts.residents))
        print(
            f"mock FCM latency {opts.latency_ms:g} ms, batch {opts.batch}, "
            f"{opts.residents:,} residents with one device each, {os.cpu_count()} cores",
            flush=True,
        )
        one = run_phase("1 worker", 1, opts.messages, residents, opts)
        four = run_phase("4 workers", 4, opts.messages, residents, opts)
        print(f"4 workers / 1 worker: {four.rate / one.rate:.2f}")
        if opts.backlog:
            drain = run_phase("backlog drain, 4 workers", 4, opts.backlog, residents, opts)
            print(f"backlog of {opts.backlog:,} drained in {drain.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
