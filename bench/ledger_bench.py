"""Ledger throughput and statement-latency benchmark against PostgreSQL (run by hand, not a test).

    .venv/bin/python bench/ledger_bench.py            # default run, about 3-5 minutes
    .venv/bin/python bench/ledger_bench.py --quick    # smoke run, well under a minute
    .venv/bin/python bench/ledger_bench.py --help

(`make bench`, where the Makefile has that target, runs the first line.)

It creates a scratch database `wujiang_bench_<hex>` next to `--url` (an admin URL, default
`postgresql+asyncpg://postgres@127.0.0.1:5432/test`), creates the ledger schema with
`SQLModel.metadata.create_all`, and drops it at the end, also on failure or Ctrl-C; the pgbench
baseline gets its own `wujiang_pgbench_<hex>` database, dropped the same way.

Figures, all printed with how they were run:
  (a) awards/s: one `ledger.post_entry` (issuer -> NO_NEGATIVE|LOTS wallet) per transaction,
      `--concurrency` tasks, once in one process and once split over two processes; best kept.
  (b) entries/s through `ledger.post_entries`, `--batch` awards per transaction, 1 and 2 writers.
  (c) awards/s with every award debiting one issuer (hot) vs spread over 64 issuers.
  (d) pgbench tpcb-like tps, `--concurrency` clients, `-j 2`, same duration.
  (e) `ledger.statement` page latency (p50/p99 of 200 fetches, 10% first pages, the rest at
      random cursors) on wallets with `--statement-sizes` postings. That history is written
      with SQL in the engine's row shape (entries, both legs, lots, balances) before the write
      phases, so (a)-(c) then bury it under newer postings of other accounts, as real traffic
      would. Its entry hashes are placeholders: `ledger verify` would flag them (the database
      is scratch and dropped anyway).
Targets: a/d >= 0.5, b/d >= 4, hot/spread >= 0.8, p99(largest)/p99(smallest) <= 1.5.

The machine is measured as a whole: every phase also reports the CPU other processes used
meanwhile ("other load", in cores). Above 0.2 cores the figures are skewed; rerun when quiet.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel

import ledger
import ledger.models  # registers the ledger tables on SQLModel.metadata
from core import clock
from core.db import make_engine
from ledger import AccountFlags, EntryIn, PostingIn
from ledger.service.reads import encode_cursor

# Settings are read on first use, so this reaches the ledger's HMAC key (and spawned workers,
# which import this module again). A real key in the environment wins.
os.environ.setdefault("WUJIANG_ENV", "development")
os.environ.setdefault("WUJIANG_LEDGER_HASH_KEY", "bench-ledger-hash-key-not-a-secret")

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ACTOR = "staff:bench"
WALLET_FLAGS = AccountFlags.NO_NEGATIVE | AccountFlags.LOTS
CATEGORY_ISSUERS = ("issuer:green", "issuer:volunteer", "issuer:cogov")
HOT_ISSUER = "issuer:hot"
SPREAD_ISSUERS = tuple(f"issuer:shard:{i:02d}" for i in range(64))
HISTORY_ISSUER = "issuer:history"
TARGETS = {"a/d": (0.5, ">="), "b/d": (4.0, ">="), "hot/spread": (0.8, ">="), "p99": (1.5, "<=")}

console = Console(highlight=False, width=110)


# options


@dataclass(frozen=True)
class Options:
    url: str
    concurrency: int
    duration: float
    quick: bool
    statement_sizes: tuple[int, ...]
    wallets: int
    batch: int
    samples: int
    pgbench_scale: int


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="admin URL (its database is untouched)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent writers (a, c, d)")
    parser.add_argument("--duration", type=float, help="seconds per phase (default 10; quick 2)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument(
        "--statement-sizes", type=int, nargs="+", help="postings per statement wallet"
    )
    parser.add_argument("--batch", type=int, help="entries per post_entries call (default 1000)")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    sizes = args.statement_sizes or ([1_000, 10_000] if quick else [10_000, 1_000_000])
    return Options(
        url=args.url,
        concurrency=args.concurrency,
        duration=args.duration or (2.0 if quick else 10.0),
        quick=quick,
        statement_sizes=tuple(sorted(set(sizes))),
        wallets=1_000 if quick else 10_000,
        batch=args.batch or (100 if quick else 1_000),
        samples=50 if quick else 200,
        pgbench_scale=2 if quick else 16,
    )


# scratch databases


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _admin(admin_url: str, sql: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


def create_database(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A fresh database's name, dropped on the way out whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    OUR_DATABASES.add(name)
    try:
        yield name
    finally:
        try:
            drop_database(admin_url, name)
        except BaseException as exc:
            console.print(f"[red]could not drop {name}: {exc!r}; drop it by hand[/red]")


# noise: CPU that other processes on this machine use while a phase runs

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# "postgres: 15/main: <user> <database> <host>(<port>) <state>": a client backend.
PG_BACKEND = re.compile(r"^postgres: [^:]+: \S+ (\S+) (?:\S+\(\d+\)|\[local\])")
OUR_DATABASES: set[str] = set()


@dataclass(frozen=True)
class ProcCpu:
    ppid: int
    cpu: float
    cmdline: str


def _proc_cpu(pid: str) -> tuple[tuple[int, int], ProcCpu] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return (int(pid), int(fields[19])), ProcCpu(int(fields[1]), cpu, cmdline)


def _cpu_snapshot() -> dict[tuple[int, int], ProcCpu]:
    """Every process's CPU seconds so far, keyed by (pid, start time)."""
    if not Path("/proc/self/stat").exists():
        return {}
    found = (_proc_cpu(pid) for pid in os.listdir("/proc") if pid.isdigit())
    return dict(item for item in found if item is not None)


def _is_other(pid: int, proc: ProcCpu, parents: dict[int, int]) -> bool:
    """Neither this benchmark (and its children), nor its backends, nor the server itself."""
    if proc.cmdline.startswith("postgres: "):
        backend = PG_BACKEND.match(proc.cmdline)
        return backend is not None and backend.group(1) not in OUR_DATABASES
    if proc.cmdline.startswith("/usr/lib/postgresql/"):
        return False
    while pid > 1:
        if pid == os.getpid():
            return False
        pid = parents.get(pid, 0)
    return True


def _other_cpu(
    before: dict[tuple[int, int], ProcCpu], after: dict[tuple[int, int], ProcCpu]
) -> float:
    parents = {pid: p.ppid for (pid, _), p in (before | after).items()}
    used = 0.0
    for key, proc in after.items():
        if _is_other(key[0], proc, parents):
            used += proc.cpu - (before[key].cpu if key in before else 0.0)
    return used


@dataclass
class Noise:
    cores: float = 0.0


@contextmanager
def other_load() -> Iterator[Noise]:
    """Measures, as busy cores, what other processes used meanwhile (a lower bound: processes
    that start and exit inside the window are not seen)."""
    noise = Noise()
    before, started = _cpu_snapshot(), time.perf_counter()
    yield noise
    noise.cores = _other_cpu(before, _cpu_snapshot()) / (time.perf_counter() - started)


# setup: schema and accounts


@dataclass(frozen=True)
class Accounts:
    wallets: tuple[str, ...]
    statement_wallets: dict[int, str]


async def setup(url: str, opts: Options) -> Accounts:
    engine = make_engine(url, pool_size=opts.concurrency)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        wallets = tuple(f"wallet:r{i:06d}" for i in range(opts.wallets))
        statement_wallets = {n: f"wallet:history:{n}" for n in opts.statement_sizes}
        plain = (*CATEGORY_ISSUERS, HOT_ISSUER, *SPREAD_ISSUERS, HISTORY_ISSUER)
        await _open_all(sessions, plain, AccountFlags.NONE, opts.concurrency)
        await _open_all(
            sessions, (*wallets, *statement_wallets.values()), WALLET_FLAGS, opts.concurrency
        )
        return Accounts(wallets, statement_wallets)
    finally:
        await engine.dispose()


async def _open_all(
    sessions: async_sessionmaker[Any], codes: tuple[str, ...], flags: AccountFlags, tasks: int
) -> None:
    chunks = [codes[i : i + 250] for i in range(0, len(codes), 250)]
    semaphore = asyncio.Semaphore(tasks)

    async def open_chunk(chunk: tuple[str, ...]) -> None:
        async with semaphore, sessions() as s, s.begin():
            for code in chunk:
                await ledger.open_account(s, code=code, flags=flags)

    await asyncio.gather(*(open_chunk(c) for c in chunks))


# statement histories, written with SQL in the shape the engine writes

HISTORY_SQL = [
    # One row per award into a history wallet; ids are UUIDv7-shaped and time-ordered.
    """
    CREATE TEMP TABLE bench_history ON COMMIT DROP AS
    SELECT w.account_id, w.tag, g.j, t.ts, t.amount,
           sum(t.amount) OVER (PARTITION BY w.account_id ORDER BY g.j) AS balance_after,
           'bench:history:' || w.tag || ':' || g.j AS key,
           (lpad(to_hex(t.ms), 12, '0') || '7' || lpad(to_hex(g.j % 4096), 3, '0') || '8'
            || lpad(to_hex(w.tag), 3, '0') || lpad(to_hex(g.j), 12, '0'))::uuid AS entry_id,
           (lpad(to_hex(t.ms), 12, '0') || '7' || lpad(to_hex(g.j % 4096), 3, '0') || '9'
            || lpad(to_hex(w.tag), 3, '0') || lpad(to_hex(g.j), 12, '0'))::uuid AS lot_id
    FROM unnest(CAST(:wallet_ids AS uuid[]), CAST(:sizes AS bigint[]))
         WITH ORDINALITY AS w(account_id, n, tag)
    CROSS JOIN LATERAL generate_series(1, w.n) AS g(j)
    CROSS JOIN LATERAL (
        SELECT ts, floor(extract(epoch FROM ts) * 1000)::bigint AS ms, 1 + g.j % 100 AS amount
        FROM (SELECT now() - interval '366 days'
                     + (interval '365 days') * (g.j::float8 / w.n) AS ts) AS x
    ) AS t
    """,
    """
    INSERT INTO ledger_entry (id, key, kind, memo, metadata, actor, effective_at, created_at,
                              reverses_id, request_hash, hash)
    SELECT entry_id, key, 'transfer', '', '{}'::jsonb, :actor, ts, ts, NULL,
           md5(key) || md5(key || '/r'), md5(key) || md5(key || '/h')
    FROM bench_history ORDER BY ts, tag, j
    """,
    """
    INSERT INTO ledger_posting (entry_id, account_id, asset, amount, balance_after, created_at)
    SELECT h.entry_id, leg.account_id, 'PT', leg.amount, leg.balance_after, h.ts
    FROM bench_history AS h
    CROSS JOIN LATERAL (VALUES (0, CAST(:issuer_id AS uuid), -h.amount, NULL::bigint),
                               (1, h.account_id, h.amount, h.balance_after))
         AS leg(n, account_id, amount, balance_after)
    ORDER BY h.ts, h.tag, h.j, leg.n
    """,
    """
    INSERT INTO ledger_lot (id, account_id, entry_id, amount, remaining, expires_at, created_at)
    SELECT lot_id, account_id, entry_id, amount, amount, now() + interval '365 days', ts
    FROM bench_history ORDER BY ts, tag, j
    """,
    """
    UPDATE ledger_account AS a SET balance = s.total
    FROM (SELECT account_id, max(balance_after) AS total FROM bench_history
          GROUP BY account_id) AS s
    WHERE a.id = s.account_id
    """,
]


async def load_histories(url: str, accounts: Accounts) -> float:
    """Write each statement wallet's history; the seconds it took."""
    started = time.perf_counter()
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            ids = await _account_ids(conn, [*accounts.statement_wallets.values(), HISTORY_ISSUER])
            params = {
                "wallet_ids": [ids[code] for code in accounts.statement_wallets.values()],
                "sizes": list(accounts.statement_wallets),
                "issuer_id": ids[HISTORY_ISSUER],
                "actor": ACTOR,
            }
            for sql in HISTORY_SQL:
                await conn.execute(text(sql), params)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def _account_ids(conn: Any, codes: list[str]) -> dict[str, uuid.UUID]:
    rows = await conn.execute(
        text("SELECT code, id FROM ledger_account WHERE code = ANY(:codes)"), {"codes": codes}
    )
    return {r.code: r.id for r in rows}


# write phases: worker processes, each running tasks that share one engine


@dataclass(frozen=True)
class WorkSpec:
    url: str
    kind: str  # "award": post_entry per transaction; "batch": post_entries per transaction
    tasks: int
    duration: float
    issuers: tuple[str, ...]
    wallets: tuple[str, ...]
    batch: int = 1
    tag: str = "a"


@dataclass
class Tally:
    items: int = 0
    errors: int = 0
    first_error: str | None = None
    elapsed: float = 0.0


class Writer:
    """One task's stream of awards (or batches of awards) with unique keys."""

    def __init__(self, spec: WorkSpec, process: int, task: int, sessions: Any) -> None:
        self.spec = spec
        self.sessions = sessions
        self.rng = random.Random(f"{spec.tag}:{process}:{task}")
        self.prefix = f"bench:{spec.tag}:{uuid.uuid4().hex[:8]}:{process}:{task}:"
        self.count = 0
        self.expires_at = clock.now() + timedelta(days=365)

    def _entry(self) -> EntryIn:
        self.count += 1
        amount = self.rng.randint(1, 100)
        return EntryIn(
            key=f"{self.prefix}{self.count}",
            actor=ACTOR,
            postings=[
                PostingIn(account=self.rng.choice(self.spec.issuers), amount=-amount),
                PostingIn(
                    account=self.rng.choice(self.spec.wallets),
                    amount=amount,
                    expires_at=self.expires_at,
                ),
            ],
        )

    async def step(self) -> int:
        """One transaction; the number of entries it committed."""
        if self.spec.kind == "award":
            entry = self._entry()
            async with self.sessions() as s, s.begin():
                await ledger.post_entry(
                    s, key=entry.key, actor=entry.actor, postings=entry.postings
                )
            return 1
        entries = [self._entry() for _ in range(self.spec.batch)]
        async with self.sessions() as s, s.begin():
            await ledger.post_entries(s, entries)
        return len(entries)

    async def run(self, start: float, deadline: float) -> Tally:
        tally = Tally()
        while time.perf_counter() < deadline:
            try:
                tally.items += await self.step()
            except Exception as exc:
                tally.errors += 1
                tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"
            tally.elapsed = time.perf_counter() - start
        return tally


async def _work(spec: WorkSpec, process: int, barrier: Any) -> Tally:
    engine = make_engine(spec.url, pool_size=max(spec.tasks, 1))
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        writers = [Writer(spec, process, t, sessions) for t in range(spec.tasks)]
        await asyncio.gather(*(w.step() for w in writers))  # warm up: connections, statements
        await asyncio.to_thread(barrier.wait, 300)
        start = time.perf_counter()
        tallies = await asyncio.gather(*(w.run(start, start + spec.duration) for w in writers))
    finally:
        await engine.dispose()
    return Tally(
        items=sum(t.items for t in tallies),
        errors=sum(t.errors for t in tallies),
        first_error=next((t.first_error for t in tallies if t.first_error), None),
        elapsed=max(t.elapsed for t in tallies),
    )


def _worker_main(spec: WorkSpec, process: int, barrier: Any, results: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us and cleans up
    try:
        tally = asyncio.run(_work(spec, process, barrier))
    except BaseException:
        barrier.abort()
        tally = Tally(errors=1, first_error=traceback.format_exc(limit=3))
    results.put(asdict(tally))


@dataclass(frozen=True)
class Rate:
    per_second: float
    how: str
    errors: int = 0
    first_error: str | None = None
    other_cores: float = 0.0


def run_phase(spec: WorkSpec, processes: int, how: str) -> Rate:
    """Run `spec` in `processes` OS processes started together; the summed rate."""
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=_worker_main, args=(spec, i, barrier, results), daemon=True)
        for i in range(processes)
    ]
    with other_load() as noise:
        for proc in procs:
            proc.start()
        try:
            tallies = [Tally(**results.get(timeout=spec.duration + 600)) for _ in procs]
        except BaseException:
            for proc in procs:
                proc.terminate()
            raise
        finally:
            _stop(procs)
    rate = sum(t.items / t.elapsed for t in tallies if t.elapsed > 0)
    errors = sum(t.errors for t in tallies)
    first = next((t.first_error for t in tallies if t.first_error), None)
    result = Rate(rate, how, errors, first, noise.cores)
    _report_phase(spec, result)
    return result


def _stop(procs: list[Any]) -> None:
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)


def _report_phase(spec: WorkSpec, rate: Rate) -> None:
    unit = "entries/s" if spec.kind == "batch" else "awards/s"
    line = f"  {spec.tag:<12} {rate.per_second:>10,.0f} {unit:<10} {rate.how}"
    line += f"  (other load {rate.other_cores:.2f} cores)"
    if rate.errors:
        line += f"  [red]{rate.errors} errors, first: {rate.first_error}[/red]"
    console.print(line)


def layouts(concurrency: int) -> list[tuple[int, int]]:
    """(processes, tasks per process) to try: all in one process, and split over two."""
    options = [(1, concurrency)]
    if concurrency >= 2 and concurrency % 2 == 0:
        options.append((2, concurrency // 2))
    return options


def _how(processes: int, tasks: int, extra: str = "") -> str:
    return f"{processes} proc x {tasks} tasks{extra}"


def award_phases(url: str, opts: Options, accounts: Accounts) -> dict[str, Rate]:
    def spec(tag: str, issuers: tuple[str, ...], tasks: int) -> WorkSpec:
        return WorkSpec(url, "award", tasks, opts.duration, issuers, accounts.wallets, tag=tag)

    console.print("(a) awards, one entry per transaction")
    tries = [
        run_phase(spec("a", CATEGORY_ISSUERS, t), p, _how(p, t, ", 3 issuers"))
        for p, t in layouts(opts.concurrency)
    ]
    best = max(range(len(tries)), key=lambda i: tries[i].per_second)
    processes, tasks = layouts(opts.concurrency)[best]
    console.print(f"(c) one hot issuer vs 64 issuers, {_how(processes, tasks)}")
    hot = run_phase(spec("c_hot", (HOT_ISSUER,), tasks), processes, _how(processes, tasks))
    spread = run_phase(spec("c_spread", SPREAD_ISSUERS, tasks), processes, _how(processes, tasks))
    return {"a": tries[best], "c_hot": hot, "c_spread": spread}


def batch_phase(url: str, opts: Options, accounts: Accounts) -> Rate:
    console.print(f"(b) post_entries, {opts.batch} entries per transaction")
    tries = [
        run_phase(
            WorkSpec(
                url,
                "batch",
                1,
                opts.duration,
                CATEGORY_ISSUERS,
                accounts.wallets,
                batch=opts.batch,
                tag="b",
            ),
            writers,
            f"{writers} writer(s), 1 proc each, {opts.batch}/tx",
        )
        for writers in (1, 2)
    ]
    return max(tries, key=lambda r: r.per_second)


# (d) pgbench baseline


def pgbench(opts: Options) -> Rate:
    console.print("(d) pgbench tpcb-like")
    exe = shutil.which("pgbench") or "/usr/bin/pgbench"
    url = make_url(opts.url)
    conn = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    conn += ["-U", url.username or "postgres"]
    env = dict(os.environ, **({"PGPASSWORD": str(url.password)} if url.password else {}))
    threads = min(2, opts.concurrency)
    with scratch_database(opts.url, "wujiang_pgbench") as name:
        init = [exe, "-i", "-q", "-s", str(opts.pgbench_scale), *conn, name]
        subprocess.run(init, check=True, env=env, capture_output=True, text=True)
        run = [exe, "-c", str(opts.concurrency), "-j", str(threads)]
        run += ["-T", str(max(1, round(opts.duration))), *conn, name]
        with other_load() as noise:
            out = subprocess.run(run, check=True, env=env, capture_output=True, text=True).stdout
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if match is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    how = f"-s {opts.pgbench_scale} -c {opts.concurrency} -j {threads}"
    rate = Rate(float(match.group(1)), how, other_cores=noise.cores)
    console.print(
        f"  {'d':<12} {rate.per_second:>10,.0f} {'tps':<10} pgbench {how}"
        f"  (other load {noise.cores:.2f} cores)"
    )
    return rate


# (e) statement latency


@dataclass(frozen=True)
class Latency:
    postings: int
    p50_ms: float
    p99_ms: float
    samples: int
    # The same, split by kind of fetch: the newest page, and pages at a random cursor.
    first_p50_ms: float
    first_p99_ms: float
    deep_p50_ms: float
    deep_p99_ms: float
    other_cores: float = 0.0

    def describe(self) -> str:
        return f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms"

    def split(self) -> str:
        return (
            f"first pages p50/p99 {self.first_p50_ms:.2f}/{self.first_p99_ms:.2f} ms, "
            f"deep {self.deep_p50_ms:.2f}/{self.deep_p99_ms:.2f} ms"
        )


async def statement_latencies(url: str, opts: Options, accounts: Accounts) -> list[Latency]:
    console.print(f"(e) statement pages of 50, {opts.samples} fetches per wallet, 10% first pages")
    engine = make_engine(url, pool_size=2)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        out = []
        for size, code in accounts.statement_wallets.items():
            with other_load() as noise:
                timings = await _fetch_timings(engine, sessions, code, size, opts.samples)
            out.append(_latency(size, timings, noise.cores))
            console.print(
                f"  {size:>12,} postings  {out[-1].describe()} ({out[-1].split()})"
                f"  (other load {noise.cores:.2f} cores)"
            )
        return out
    finally:
        await engine.dispose()


async def _fetch_timings(
    engine: AsyncEngine, sessions: Any, code: str, size: int, samples: int
) -> list[tuple[bool, float]]:
    """(first page?, milliseconds) of each timed `ledger.statement` call."""
    warmup = 20
    cursors = await _sample_cursors(engine, code, samples + warmup)
    rng = random.Random(size)
    fetches: list[str | None] = [None if rng.random() < 0.1 else c for c in cursors]

    async def fetch(cursor: str | None) -> None:
        async with sessions() as s, s.begin():
            page = await ledger.statement(s, account=code, limit=50, cursor=cursor)
            assert page.items, "a sampled cursor should have postings before it"

    for cursor in fetches[:warmup]:
        await fetch(cursor)
    return [(c is None, await _timed(fetch(c))) for c in fetches[warmup:]]


def _latency(size: int, timings: list[tuple[bool, float]], other_cores: float) -> Latency:
    every = [ms for _, ms in timings]
    first = [ms for is_first, ms in timings if is_first] or [float("nan")]
    deep = [ms for is_first, ms in timings if not is_first] or [float("nan")]
    return Latency(
        postings=size,
        p50_ms=_percentile(every, 50),
        p99_ms=_percentile(every, 99),
        samples=len(every),
        first_p50_ms=_percentile(first, 50),
        first_p99_ms=_percentile(first, 99),
        deep_p50_ms=_percentile(deep, 50),
        deep_p99_ms=_percentile(deep, 99),
        other_cores=other_cores,
    )


async def _sample_cursors(engine: AsyncEngine, code: str, samples: int) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT p.seq FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id "
                "WHERE a.code = :code ORDER BY random() LIMIT :n"
            ),
            {"code": code, "n": samples},
        )
        # The oldest posting has nothing before it: step one past each sampled seq.
        return [encode_cursor(r.seq + 1) for r in rows]


async def _timed(work: Awaitable[None]) -> float:
    started = time.perf_counter()
    await work
    return (time.perf_counter() - started) * 1000


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# report


@dataclass
class Results:
    rates: dict[str, Rate] = field(default_factory=dict)
    latencies: list[Latency] = field(default_factory=list)


def _check(name: str, value: float) -> str:
    target, op = TARGETS[name]
    ok = value >= target if op == ">=" else value <= target
    return f"{op} {target:g}  " + ("[green]met[/green]" if ok else "[red]MISSED[/red]")


NOISY_CORES = 0.2  # other processes using more than this during a phase skew the figures


def print_summary(results: Results, opts: Options) -> None:
    table = Table(title="ledger benchmark")
    for column in ("figure", "value", "how / target", "other load"):
        table.add_column(column)
    for name, rate in results.rates.items():
        table.add_row(name, f"{rate.per_second:,.0f}/s", rate.how, _cores(rate.other_cores))
    for ratio, num, den in (
        ("a/d", "a", "d"),
        ("b/d", "b", "d"),
        ("hot/spread", "c_hot", "c_spread"),
    ):
        value = results.rates[num].per_second / results.rates[den].per_second
        table.add_row(ratio, f"{value:.2f}", _check(ratio, value), "")
    for lat in results.latencies:
        table.add_row(
            f"statement {lat.postings:,}",
            lat.describe(),
            f"{lat.samples} fetches; {lat.split()}",
            _cores(lat.other_cores),
        )
    if len(results.latencies) >= 2:
        small, large = results.latencies[0], results.latencies[-1]
        value = large.p99_ms / small.p99_ms
        name = f"p99 {large.postings:,}/{small.postings:,}"
        table.add_row(name, f"{value:.2f}", _check("p99", value), "")
    console.print(table)
    console.print(
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"concurrency {opts.concurrency}, {opts.duration:g} s per phase"
    )
    _warn_if_noisy(results)


def _cores(value: float) -> str:
    text = f"{value:.2f} cores"
    return f"[red]{text}[/red]" if value > NOISY_CORES else text


def _warn_if_noisy(results: Results) -> None:
    loads = [r.other_cores for r in results.rates.values()]
    loads += [lat.other_cores for lat in results.latencies]
    if max(loads, default=0.0) > NOISY_CORES:
        console.print(
            f"[red]other processes used up to {max(loads):.2f} cores during the phases: "
            "these figures are skewed; rerun on a quiet machine[/red]"
        )


async def server_facts(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            facts = []
            for setting in ("server_version", "shared_buffers", "synchronous_commit", "fsync"):
                value = (await conn.exec_driver_sql(f"SHOW {setting}")).scalar_one()
                facts.append(f"{setting}={value}")
            return ", ".join(facts)
    finally:
        await engine.dispose()


# main


def run(opts: Options) -> Results:
    results = Results()
    console.print(f"PostgreSQL: {asyncio.run(server_facts(opts.url))}")
    with scratch_database(opts.url, "wujiang_bench") as name:
        url = database_url(opts.url, name)
        console.print(f"scratch database {name}")
        accounts = _timed_step("schema and accounts", lambda: asyncio.run(setup(url, opts)))
        sizes = "+".join(f"{n:,}" for n in opts.statement_sizes)
        _timed_step(
            f"statement histories ({sizes} postings, SQL)",
            lambda: asyncio.run(load_histories(url, accounts)),
        )
        results.rates.update(award_phases(url, opts, accounts))
        results.rates["b"] = batch_phase(url, opts, accounts)
        results.rates["d"] = pgbench(opts)
        results.latencies = asyncio.run(statement_latencies(url, opts, accounts))
    return results


def _timed_step(label: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    console.print(f"{label}: {time.perf_counter() - started:.1f} s")
    return value


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up on SIGTERM too
    started = time.perf_counter()
    try:
        results = run(opts)
    except KeyboardInterrupt:
        console.print("[red]interrupted; scratch databases dropped[/red]")
        return 130
    print_summary(results, opts)
    console.print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
