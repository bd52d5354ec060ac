"""Feed import throughput on PostgreSQL (run by hand, not a test).

    WUJIANG_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/import_bench.py [--rows 100000] [--residents 5000] [--verify]

`WUJIANG_DATABASE_URL` (or `--url`) names an admin connection: the benchmark creates a scratch
database `wujiang_importbench_<hex>` next to it, migrates it, and drops it at the end, also on
failure or Ctrl-C. It publishes the default behaviour list, creates `--residents` residents,
writes `--rows` JSON lines (garbage-sorting counts and recyclables by weight, spread over the
last 60 days, one in ten naming the resident by phone), and imports the file through the same
service and parser the CLI uses (`points.service.feeds.import_feed`, 1,000 rows a transaction).
It prints rows/s and total seconds, then the time of a second, all-duplicate run of the same
file. Target: well under a minute for 100,000 rows."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("WUJIANG_ENV", "development")

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SOURCE = "garbage-sorting"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("WUJIANG_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=5_000)
    parser.add_argument("--verify", action="store_true", help="run ledger.verify afterwards")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


async def _admin(admin_url: str, sql: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextmanager
def scratch_database(admin_url: str) -> Any:
    """A fresh database's URL, dropped on the way out whatever happens."""
    if not admin_url.startswith("postgresql"):
        raise SystemExit("import_bench measures PostgreSQL: give a postgresql+asyncpg:// URL")
    name = f"wujiang_importbench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def prepare(url: str, residents_wanted: int) -> list[tuple[uuid.UUID, str]]:
    """Migrate, publish the behaviour list, create the residents: (id, phone) of each."""
    import points
    from core.db import Database
    from core.migrate import migrate
    from core.settings import get_settings
    from identity import residents

    await migrate(url)
    database = Database(get_settings())
    people = []
    try:
        async with database.unit_of_work() as session:
            text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
            await points.publish_behaviours(session, document=text, published_by="bench")
            for n in range(residents_wanted):
                phone = f"139{n:08d}"
                found, _ = await residents.find_or_create_by_phone(session, phone=phone)
                people.append((found.id, phone))
    finally:
        await database.dispose()
    return people


def write_feed(path: Path, rows: int, people: list[tuple[uuid.UUID, str]], seed: int) -> None:
    from core import clock

    rng = random.Random(seed)
    now = clock.now()
    with path.open("w", encoding="utf-8") as out:
        for n in range(rows):
            resident_id, phone = people[n % len(people)]
            who = {"phone": phone} if n % 10 == 9 else {"resident": str(resident_id)}
            kg = rng.random() < 0.3
            at = now - timedelta(minutes=rng.randrange(60, 60 * 24 * 60))
            record = {
                "record_id": f"bench-{n:07d}",
                **who,
                "behaviour": "recyclables-exchange" if kg else "garbage-sorting",
                "quantity": f"{rng.uniform(0.5, 5):.2f}" if kg else "1",
                "occurred_at": at.isoformat(timespec="seconds"),
                "community": "songling",
            }
            out.write(json.dumps(record) + "\n")


async def run_import(path: Path) -> tuple[float, Any]:
    from core.db import Database
    from core.settings import get_settings
    from points.schemas.feeds import FeedFormat
    from points.service import feed_parsing, feeds

    database = Database(get_settings())
    try:
        started = time.perf_counter()
        with path.open("rb") as stream:
            report = await feeds.import_feed(
                database.unit_of_work,
                source=SOURCE,
                rows=feed_parsing.parse(stream, FeedFormat.JSONL),
            )
        return time.perf_counter() - started, report
    finally:
        await database.dispose()


async def verify() -> Any:
    import ledger
    from core.db import Database
    from core.settings import get_settings

    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            return await ledger.verify(session)
    finally:
        await database.dispose()


def show(label: str, seconds: float, report: Any) -> None:
    print(
        f"{label}: {report.rows} rows in {seconds:.1f} s = {report.rows / seconds:,.0f} rows/s "
        f"(imported {report.imported}, duplicates {report.duplicates}, failed {report.failed}, "
        f"points {report.points})"
    )
    reasons: dict[str, int] = {}
    for error in report.errors:
        reasons[error.reason] = reasons.get(error.reason, 0) + 1
    if reasons:
        print("  failed by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))


def main() -> None:
    options = parse_args()
    with scratch_database(options.url) as url, tempfile.TemporaryDirectory() as tmp:
        os.environ["WUJIANG_DATABASE_URL"] = url
        from core.settings import get_settings

        get_settings.cache_clear()
        started = time.perf_counter()
        people = asyncio.run(prepare(url, options.residents))
        feed = Path(tmp) / "feed.jsonl"
        write_feed(feed, options.rows, people, options.seed)
        print(
            f"setup: {len(people)} residents, {options.rows} rows "
            f"({feed.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
        )
        seconds, report = asyncio.run(run_import(feed))
        show("first run", seconds, report)
        seconds, report = asyncio.run(run_import(feed))
        show("second run (all duplicates)", seconds, report)
        if options.verify:
            checked = asyncio.run(verify())
            print(f"ledger verify: {'ok' if checked.ok else checked}")


if __name__ == "__main__":
    main()
