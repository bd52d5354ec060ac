"""Awards end to end over HTTP on PostgreSQL, next to pgbench (run by hand, not a test).

    .venv/bin/python bench/award_http_bench.py             # default run, about 2 minutes
    .venv/bin/python bench/award_http_bench.py --quick     # smoke run
    .venv/bin/python bench/award_http_bench.py --help

It creates a scratch database `wujiang_awardbench_<hex>` next to `--url` (an admin URL, default
`postgresql+asyncpg://postgres@127.0.0.1:5432/test`), migrates it, publishes a one-behaviour
list (1 point per award, a yearly cap far away, so every award still runs the cap upsert),
creates `--concurrency` awarder staff members (each signed in: real ES256 access tokens,
verified by the server with the Redis revocation check) and 5,000 residents, starts the API with
uvicorn (`--workers` processes, default 1 and 2 tried) and has `--concurrency` clients post
`POST /v1/staff/awards` (a fresh Idempotency-Key each) back to back for `--duration` seconds.

Then it runs pgbench tpcb-like at the same concurrency for the same time, and prints awards/s,
p50/p99 latency, the pgbench tps and the ratio. Targets: awards/s >= 0.3 x pgbench tps, p99 < 50 ms.
The load generator runs on the same 2 cores as the server and the database, as pgbench does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import ledger_bench as lb  # scratch databases, pgbench, noise: one copy

DEFAULT_URL = lb.DEFAULT_URL
RESIDENTS = 5_000
BEHAVIOURS = """\
notes: benchmark list
behaviours:
  - code: bench-deed
    category: volunteer
    title: {zh: 基准测试, en: Benchmark deed}
    description: {zh: 基准测试行为, en: A deed that exists for the benchmark}
    points_per_unit: 1
    unit: time
    caps: {year: 100000000}
    certified_by: awarder
    evidence_required: false
"""


@dataclass(frozen=True)
class Options:
    url: str
    concurrency: int
    duration: float
    workers: tuple[int, ...]
    quick: bool


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="admin URL (its database is untouched)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent HTTP clients")
    parser.add_argument("--duration", type=float, help="seconds per run (default 15; quick 3)")
    parser.add_argument("--workers", type=int, nargs="+", help="uvicorn worker counts to try")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    args = parser.parse_args(argv)
    return Options(
        url=args.url,
        concurrency=args.concurrency,
        duration=args.duration or (3.0 if args.quick else 15.0),
        workers=tuple(args.workers or ([1] if args.quick else [1, 2])),
        quick=bool(args.quick),
    )


def server_env(database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        WUJIANG_ENV="development",
        WUJIANG_DATABASE_URL=database_url,
        WUJIANG_REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        WUJIANG_LOG_LEVEL="WARNING",
        WUJIANG_POINTS_STAFF_DAILY_BUDGET=str(10**9),
        WUJIANG_LEDGER_HASH_KEY="bench-ledger-hash-key-not-a-secret",
    )


def migrate(env: dict[str, str]) -> None:
    wujiang = Path(sys.executable).with_name("wujiang")
    subprocess.run([str(wujiang), "migrate"], check=True, env=env, capture_output=True)


SETUP = """
import asyncio, json, sys
from core.db import get_database
from identity import residents, sessions, staff
from identity.clients import STAFF_CLIENT_ID
from identity.tokens import STAFF_ACR
import points

async def main(concurrency, residents_count, behaviours):
    database = get_database()
    async with database.unit_of_work() as session:
        await points.publish_behaviours(session, document=behaviours, published_by="bench")
    tokens = []
    async with database.unit_of_work() as session:
        for i in range(concurrency):
            member, _ = await staff.create(session, username=f"bench.{i}",
                display_name=f"bench {i}", password="bench-password-long-enough-2026",
                grants=[("awarder", "*")])
            issued = await sessions.start(session, subject_type="staff", subject=str(member.id),
                client_id=STAFF_CLIENT_ID, channel="staff", assurance=STAFF_ACR, scope="staff")
            tokens.append(issued.access_token)
    ids = []
    async with database.unit_of_work() as session:
        for i in range(residents_count):
            resident, _ = await residents.find_or_create_by_phone(session, phone=f"139{i:08d}")
            ids.append(str(resident.id))
    await database.dispose()
    print(json.dumps({"tokens": tokens, "residents": ids}))

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
"""


def setup(env: dict[str, str], concurrency: int) -> tuple[list[str], list[str]]:
    """Staff tokens and resident ids, made in a process that reads the server's settings."""
    import json

    done = subprocess.run(
        [sys.executable, "-c", SETUP, str(concurrency), str(RESIDENTS), BEHAVIOURS],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    made = json.loads(done.stdout.strip().splitlines()[-1])
    return made["tokens"], made["residents"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    wujiang = Path(sys.executable).with_name("wujiang")
    command = [str(wujiang), "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the API did not start")


@dataclass
class Tally:
    latencies: list[float]
    statuses: dict[int, int]


async def client_loop(
    http: httpx.AsyncClient, token: str, residents: list[str], stop_at: float, tally: Tally
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    index = hash(token) % len(residents)
    while time.perf_counter() < stop_at:
        index = (index + 7) % len(residents)
        body = {"resident_id": residents[index], "behaviour": "bench-deed", "community": "bench"}
        started = time.perf_counter()
        response = await http.post(
            "/v1/staff/awards",
            json=body,
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        tally.latencies.append(time.perf_counter() - started)
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1


async def load(base: str, tokens: list[str], residents: list[str], seconds: float) -> Tally:
    tally = Tally([], {})
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        stop_at = time.perf_counter() + seconds
        await asyncio.gather(
            *(client_loop(http, token, residents, stop_at, tally) for token in tokens)
        )
    return tally


@dataclass(frozen=True)
class Run:
    workers: int
    awards_per_second: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    other_cores: float


def measure(
    env: dict[str, str], opts: Options, workers: int, tokens: list[str], residents: list[str]
) -> Run:
    server, base = start_server(env, workers)
    try:
        asyncio.run(load(base, tokens, residents, 2.0))  # warm-up: connections, caches
        with lb.other_load() as noise:
            started = time.perf_counter()
            tally = asyncio.run(load(base, tokens, residents, opts.duration))
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    created = tally.statuses.get(201, 0)
    run = Run(
        workers=workers,
        awards_per_second=created / elapsed,
        p50_ms=lb._percentile(tally.latencies, 50) * 1000,
        p99_ms=lb._percentile(tally.latencies, 99) * 1000,
        statuses=tally.statuses,
        other_cores=noise.cores,
    )
    lb.console.print(
        f"  {workers} worker(s): {run.awards_per_second:,.0f} awards/s, "
        f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, statuses {run.statuses}"
    )
    return run


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    lb.console.print(
        f"awards over HTTP: {opts.concurrency} clients, {opts.duration:.0f} s per run, "
        f"workers {list(opts.workers)}"
    )
    with lb.scratch_database(opts.url, "wujiang_awardbench") as name:
        env = server_env(lb.database_url(opts.url, name))
        migrate(env)
        tokens, residents = setup(env, opts.concurrency)
        runs = [measure(env, opts, w, tokens, residents) for w in opts.workers]
    baseline = lb.pgbench(
        lb.Options(
            url=opts.url,
            concurrency=opts.concurrency,
            duration=opts.duration,
            quick=opts.quick,
            statement_sizes=(),
            wallets=0,
            batch=0,
            samples=0,
            pgbench_scale=2 if opts.quick else 16,
        )
    )
    best = max(runs, key=lambda r: r.awards_per_second)
    ratio = best.awards_per_second / baseline.per_second
    lb.console.print(
        f"\nbest: {best.workers} worker(s), {best.awards_per_second:,.0f} awards/s, "
        f"p50 {best.p50_ms:.1f} ms, p99 {best.p99_ms:.1f} ms "
        f"(other load {best.other_cores:.2f} cores)\n"
        f"pgbench tpcb-like -c {opts.concurrency}: {baseline.per_second:,.0f} tps\n"
        f"awards/pgbench = {ratio:.2f}  (target >= 0.3: {'met' if ratio >= 0.3 else 'MISSED'})\n"
        f"p99 = {best.p99_ms:.1f} ms  (target < 50 ms: {'met' if best.p99_ms < 50 else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
