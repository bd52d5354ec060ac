"""1,000 residents race over HTTP for 100 units of one reward on PostgreSQL (run by hand, not a
test): exactly 100 must win, everyone else must get a clear 409 `sold-out`.

    .venv/bin/python bench/redemption_race.py                  # 1,000 residents, 100 units
    .venv/bin/python bench/redemption_race.py --residents 300 --stock 30 --concurrency 32
    .venv/bin/python bench/redemption_race.py --help

It creates a scratch database `wujiang_redeembench_<hex>` next to `--url` (an admin URL; default
`$WUJIANG_DATABASE_URL`, else `postgresql+asyncpg://postgres@127.0.0.1:5432/test`), migrates it,
makes the residents (each signed in to the app: real ES256 access tokens, verified by the server
with the Redis revocation check) with 100 points each and one reward, starts the API with uvicorn
(`--workers`), and fires every resident's `POST /v1/me/redemptions` at once through an httpx
client with `--concurrency` connections. It prints winners, sold-out refusals, other answers, the
wall time and p50/p99 latency, then checks the database (stock left, redemptions, every winner's
points held once, `ledger verify`) and exits non-zero if anything is off. The scratch database is
dropped at the end, also on failure.

Concurrency defaults to 64 connections per run: redis-py 8 refuses more than 100 connections per
client pool, and every request checks its token in Redis.
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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
import award_http_bench as ab  # server start-up, migration
import ledger_bench as lb  # scratch databases, percentiles, console

COST = 30
FUNDS = 100

SETUP = """
import asyncio, json, sys
from datetime import timedelta
import ledger, points
from api.auth import APP_SCOPE
from core import clock
from core.db import get_database
from identity import residents, sessions
from identity.clients import APP_CLIENT_ID
from points import accounts
from points.schemas.rewards import RewardIn

async def main(count, stock, cost, funds):
    database = get_database()
    async with database.unit_of_work() as session:
        text = {"zh": "灯笼", "en": "Lantern"}
        reward = {"code": "bench-lantern", "kind": "gift", "merchant": "bench-mart",
            "title": text, "description": text, "points_cost": cost, "stock": stock,
            "voucher_valid_days": 30}
        await points.add_rewards(session, rewards=[RewardIn.model_validate(reward)])
        issuer = await accounts.open_issuer(session, "green")
    made = []
    async with database.unit_of_work() as session:
        for i in range(count):
            resident, _ = await residents.find_or_create_by_phone(session, phone=f"136{i:08d}")
            issued = await sessions.start(session, subject_type="resident",
                subject=str(resident.id), client_id=APP_CLIENT_ID, channel="app",
                assurance=resident.assurance, scope=APP_SCOPE)
            wallet = await accounts.open_wallet(session, resident.id)
            await ledger.post_entry(session, key=f"bench-fund:{resident.id}", actor="bench",
                postings=[ledger.PostingIn(account=issuer, amount=-funds),
                          ledger.PostingIn(account=wallet, amount=funds,
                                           expires_at=clock.now() + timedelta(days=365))])
            made.append([str(resident.id), issued.access_token])
    await database.dispose()
    print(json.dumps(made))

asyncio.run(main(*map(int, sys.argv[1:5])))
"""

CHECK = """
import asyncio, json, sys
from sqlalchemy import func, select
import ledger, points
from core.db import get_database
from points.accounts import wallet
from points.models import Redemption

async def main(ids):
    database = get_database()
    async with database.unit_of_work() as session:
        left = (await points.get_reward(session, code="bench-lantern", public=False)).stock_left
        count = (await session.execute(select(func.count()).select_from(Redemption))).scalar_one()
        balances = {i: await ledger.balance(session, account=wallet(i)) for i in ids}
        report = await ledger.verify(session)
    await database.dispose()
    print(json.dumps({"stock_left": left, "redemptions": count, "balances": balances,
                      "violations": len(report.violations)}))

asyncio.run(main(json.loads(sys.stdin.read())))
"""


@dataclass(frozen=True)
class Options:
    url: str
    residents: int
    stock: int
    concurrency: int
    workers: int


def parse_args(argv: list[str] | None = None) -> Options:
    default_url = os.environ.get("WUJIANG_DATABASE_URL") or lb.DEFAULT_URL
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=default_url, help="admin URL (its database is untouched)")
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64, help="HTTP connections at once")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    if not args.url.startswith("postgresql"):
        parser.error("--url must be a PostgreSQL URL (postgresql+asyncpg://...)")
    return Options(args.url, args.residents, args.stock, args.concurrency, args.workers)


def run_script(script: str, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        check=True,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Outcome:
    status: int
    problem: str | None
    seconds: float


async def race(base: str, actors: list[list[str]], concurrency: int) -> tuple[list[Outcome], float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # Latency is measured from when a request has a connection, not while it queues for one.
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def redeem(token: str) -> Outcome:
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
            async with gate:
                started = time.perf_counter()
                response = await http.post(
                    "/v1/me/redemptions", json={"reward": "bench-lantern"}, headers=headers
                )
                seconds = time.perf_counter() - started
            problem = None
            if response.status_code >= 400:
                problem = str(response.json().get("type", "")).rsplit(":", 1)[-1]
            return Outcome(response.status_code, problem, seconds)

        started = time.perf_counter()
        outcomes = await asyncio.gather(*(redeem(token) for _, token in actors))
        return list(outcomes), time.perf_counter() - started


def report(opts: Options, outcomes: list[Outcome], wall: float) -> Counter[str]:
    kinds = Counter(
        "won"
        if o.status == 201
        else (o.problem or str(o.status))
        if o.status == 409
        else f"HTTP {o.status}"
        for o in outcomes
    )
    latencies = [o.seconds for o in outcomes]
    lb.console.print(
        f"{opts.residents} residents, {opts.stock} units, {opts.concurrency} connections, "
        f"{opts.workers} worker(s)\n"
        f"  winners:  {kinds['won']}\n"
        f"  sold out: {kinds['sold-out']}\n"
        f"  other:    {dict((k, v) for k, v in kinds.items() if k not in {'won', 'sold-out'})}\n"
        f"  wall time {wall:.2f} s, {len(outcomes) / wall:,.0f} requests/s, "
        f"p50 {lb._percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {lb._percentile(latencies, 99) * 1000:.1f} ms"
    )
    return kinds


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    with lb.scratch_database(opts.url, "wujiang_redeembench") as name:
        env = ab.server_env(lb.database_url(opts.url, name))
        ab.migrate(env)
        actors = json.loads(
            run_script(SETUP, env, str(opts.residents), str(opts.stock), str(COST), str(FUNDS))
        )
        server, base = ab.start_server(env, opts.workers)
        try:
            outcomes, wall = asyncio.run(race(base, actors, opts.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=30)
        kinds = report(opts, outcomes, wall)
        winners = {a[0] for a, o in zip(actors, outcomes, strict=True) if o.status == 201}
        state = json.loads(run_script(CHECK, env, stdin=json.dumps([a[0] for a in actors])))
    held_once = all(
        balance == (FUNDS - COST if resident in winners else FUNDS)
        for resident, balance in state["balances"].items()
    )
    lb.console.print(
        f"  database: stock left {state['stock_left']}, redemptions {state['redemptions']}, "
        f"points held once per winner: {held_once}, ledger violations {state['violations']}"
    )
    assert kinds["won"] == opts.stock, f"expected exactly {opts.stock} winners"
    assert kinds["sold-out"] == opts.residents - opts.stock, "every loser must be told sold-out"
    assert state["stock_left"] == 0
    assert state["redemptions"] == opts.stock
    assert held_once
    assert state["violations"] == 0
    lb.console.print("[green]OK: exactly the stock won, everyone else was told sold out[/green]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
