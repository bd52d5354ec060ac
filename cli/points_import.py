"""`wujiang points import FILE --source …`: import an integration feed's batch from a file.

The same service as the HTTP endpoint (points.service.feeds), one transaction per thousand rows,
so an interrupted import keeps what it committed and running it again finishes the job: records
already imported count as duplicates. Exit code 0 when the file was read (even if rows failed:
they are listed in the errors report), 1 when it cannot be read, 2 when the import is refused
(no behaviour list published, a source that certifies nothing)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cli.common import console, progress_bar, run_with_database
from core.db import Database
from points.errors import InvalidFeedBatch
from points.schemas.feeds import FeedFormat, FeedReport, FeedRowError
from points.service import feed_parsing, feeds

# Cells a spreadsheet would run as a formula (CSV injection): written with a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def import_command(
    file: Annotated[Path, typer.Argument(help="The batch: JSON lines, or CSV with a header.")],
    source: Annotated[
        str, typer.Option(help="The feed, as in the behaviour list: garbage-sorting, ...")
    ],
    fmt: Annotated[
        FeedFormat | None,
        typer.Option("--format", help="jsonl or csv; guessed from the file name if not given."),
    ] = None,
    errors: Annotated[
        Path | None,
        typer.Option(help="Write failed rows here (CSV); default FILE.errors.csv if any fail."),
    ] = None,
) -> None:
    """Import a feed batch: award points for each record, report the rows that failed."""
    fmt = fmt or feed_parsing.guess_format(file.name)
    if fmt is None:
        _unreadable(f"Cannot tell the format of {file.name}: give --format jsonl or csv.")
    try:
        total = _count_lines(file) - (1 if fmt is FeedFormat.CSV else 0)
    except OSError as exc:
        _unreadable(f"Cannot read {file}: {exc.strerror or exc}")
    report = run_with_database(lambda database: _import(database, file, fmt, source, total))
    if report is None:
        raise typer.Exit(1)
    _summarise(report)
    if report.errors:
        target = errors or file.with_name(file.name + ".errors.csv")
        write_errors(target, report.errors)
        console.print(f"Failed rows written to {target}")


async def _import(
    database: Database, file: Path, fmt: FeedFormat, source: str, total: int
) -> FeedReport | None:
    with file.open("rb") as stream, progress_bar(f"Importing {file.name}") as advance:
        try:
            return await feeds.import_feed(
                database.unit_of_work,
                source=source,
                rows=feed_parsing.parse(stream, fmt),
                progress=lambda done: advance(done, max(total, done)),
            )
        except InvalidFeedBatch as exc:
            console.print(f"[red]{exc.title}:[/red] {exc.detail}", soft_wrap=True)
            return None


def _count_lines(file: Path) -> int:
    """Lines in the file, for the progress bar: a quick pass over its bytes."""
    count, last = 0, b"\n"
    with file.open("rb") as stream:
        while block := stream.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _summarise(report: FeedReport) -> None:
    console.print(
        f"{report.rows} rows from {report.source}: {report.imported} imported "
        f"({report.points} points), {report.duplicates} duplicates, {report.failed} failed."
    )
    reasons: dict[str, int] = {}
    for error in report.errors:
        reasons[error.reason] = reasons.get(error.reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        console.print(f"  {reason}: {count}")


def write_errors(target: Path, errors: list[FeedRowError]) -> None:
    """The failed rows as CSV (line, record_id, reason, message), safe to open in a spreadsheet."""
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "record_id", "reason", "message"])
        for error in errors:
            writer.writerow(
                [error.line, _cell(error.record_id or ""), error.reason, _cell(error.message)]
            )


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _unreadable(message: str) -> NoReturn:
    console.print(f"[red]{message}[/red]", soft_wrap=True)
    raise typer.Exit(1)
