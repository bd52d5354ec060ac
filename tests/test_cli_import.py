"""`wujiang points import FILE --source …` on a scratch database, with files in tmp_path."""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledger
import points
from cli.main import app
from core import clock
from core.db import Database
from core.settings import get_settings
from identity import residents

runner = CliRunner()
NOW = datetime.fromisoformat("2026-12-01T10:00:00+08:00")
WHEN = "2026-12-01T09:00:00+08:00"


async def _prepare() -> uuid.UUID:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
            await points.publish_behaviours(session, document=text, published_by="test")
            found, _ = await residents.find_or_create_by_phone(session, phone="13800000001")
            return found.id
    finally:
        await database.dispose()


async def _balance(resident_id: uuid.UUID) -> int:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            account = await ledger.get_account(session, code=f"resident:{resident_id}")
            return account.balance or 0
    finally:
        await database.dispose()


@pytest.fixture
def resident_id(migrated_database: str) -> uuid.UUID:
    with clock.frozen(NOW):
        yield asyncio.run(_prepare())


def invoke(*args: str):
    with clock.frozen(NOW):
        return runner.invoke(app, ["points", "import", *args])


def test_a_jsonl_file_is_imported_once_and_failed_rows_reported(
    resident_id: uuid.UUID, tmp_path: Path
) -> None:
    feed = tmp_path / "machines-2026-12-01.jsonl"
    good = {
        "resident": str(resident_id),
        "behaviour": "garbage-sorting",
        "occurred_at": WHEN,
        "community": "songling",
    }
    lines = [
        json.dumps({**good, "record_id": "m-1"}),
        json.dumps({**good, "record_id": "m-2"}),
        json.dumps({**good, "record_id": '=HYPERLINK("http://x")', "behaviour": "nope"}),
        "\x00garbage",
    ]
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")

    first = invoke(str(feed), "--source", "garbage-sorting")
    report = tmp_path / "errors.csv"
    again = invoke(str(feed), "--source", "garbage-sorting", "--errors", str(report))

    assert first.exit_code == 0, first.output
    assert "4 rows from garbage-sorting: 2 imported (4 points), 0 duplicates, 2 failed" in (
        first.output
    )
    default_report = tmp_path / "machines-2026-12-01.jsonl.errors.csv"
    assert default_report.exists()
    assert again.exit_code == 0, again.output
    assert "0 imported (0 points), 2 duplicates, 2 failed" in again.output
    with report.open(encoding="utf-8") as written:
        rows = list(csv.DictReader(written))
    assert [(r["line"], r["reason"]) for r in rows] == [
        ("3", "unknown-behaviour"),
        ("4", "invalid-row"),
    ]
    assert rows[0]["record_id"].startswith("'=")  # never a live formula in a spreadsheet
    assert asyncio.run(_balance(resident_id)) == 4


def test_a_csv_file_with_its_format_named(resident_id: uuid.UUID, tmp_path: Path) -> None:
    feed = tmp_path / "export.txt"
    feed.write_text(
        "record_id,resident,behaviour,quantity,occurred_at,community\n"
        f"r-1,{resident_id},recyclables-exchange,1.5,{WHEN},songling\n",
        encoding="utf-8",
    )

    guessed = invoke(str(feed), "--source", "garbage-sorting")
    named = invoke(str(feed), "--source", "garbage-sorting", "--format", "csv")

    assert guessed.exit_code == 1
    assert "--format" in guessed.output
    assert named.exit_code == 0, named.output
    assert "1 imported (4 points)" in named.output


def test_unreadable_files_and_refused_imports(resident_id: uuid.UUID, tmp_path: Path) -> None:
    headless = tmp_path / "headless.csv"
    headless.write_text(f"r-1,{resident_id},garbage-sorting,1,{WHEN},songling\n")
    feed = tmp_path / "ok.jsonl"
    feed.write_text("{}\n")

    missing = invoke(str(tmp_path / "absent.jsonl"), "--source", "garbage-sorting")
    no_header = invoke(str(headless), "--source", "garbage-sorting")
    unknown_source = invoke(str(feed), "--source", "weather-station")

    assert missing.exit_code == 1
    assert no_header.exit_code == 1
    assert "header" in no_header.output
    assert unknown_source.exit_code == 2
    assert "weather-station" in unknown_source.output
