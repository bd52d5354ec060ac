"""`wujiang points ...`: the expiry sweep and its reminders, ranking rebuilds, the report."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

import points
from cli.common import console, progress_bar, run_with_database
from cli.points_import import import_command
from core import clock
from core.db import Database
from core.redis import make_redis
from core.settings import get_settings
from points.schemas.expiry import ExpirySweep, ReminderRun
from points.schemas.rankings import MONTH_PATTERN, RebuildResult
from points.schemas.reports import PointsReport
from points.service.reports import CSV_COLUMNS

app = typer.Typer(help="The points programme: expiry, reminders, rankings, reports.")
rankings_app = typer.Typer(help="Community rankings (Redis sorted sets).", no_args_is_help=True)
app.add_typer(rankings_app, name="rankings")


@app.command()
def expire(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Wallets per transaction.")] = 500,
) -> None:
    """Post the expiry of every lapsed lot; running it again moves nothing."""
    now = clock.now()

    async def sweep(database: Database) -> ExpirySweep:
        async with database.unit_of_work() as session:
            total = await points.count_lapsed_wallets(session, now=now)
        done = ExpirySweep()
        with progress_bar("Expiring points") as advance:
            advance(0, total)
            while True:
                async with database.unit_of_work() as session:
                    swept = await points.expire_points(session, now=now, limit=batch)
                if swept.residents == 0:
                    return done
                done.residents += swept.residents
                done.points += swept.points
                advance(done.residents, max(total, done.residents))

    result = run_with_database(sweep)
    console.print(
        f"{result.points} points lapsed in {result.residents} wallets "
        f"(as of {now:%Y-%m-%d %H:%M} UTC)"
    )


@app.command()
def remind(
    days: Annotated[int, typer.Option(min=1, max=365, help="Remind this many days ahead.")] = 30,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Wallets per transaction.")] = 1000,
) -> None:
    """Queue `points.expiring` reminders; a resident is reminded once per expiry date."""
    now = clock.now()

    async def run(database: Database) -> ReminderRun:
        done = ReminderRun()
        with progress_bar("Queueing reminders") as advance:
            while True:
                async with database.unit_of_work() as session:
                    step = await points.remind_expiring(
                        session, now=now, days=days, after=done.next_after, limit=batch
                    )
                done.residents += step.residents
                done.reminders += step.reminders
                done.points += step.points
                done.next_after = step.next_after
                advance(done.residents, done.residents)
                if step.next_after is None:
                    return done

    result = run_with_database(run)
    console.print(
        f"{result.reminders} new reminders for {result.points} points; "
        f"{result.residents} residents have points lapsing within {days} days"
    )


@rankings_app.command()
def rebuild(
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM (local calendar); default this month.")
    ] = None,
) -> None:
    """Rebuild the month's ranking sets from the database."""
    if month is not None and not _is_month(month):
        console.print("[red]Write the month as YYYY-MM.[/red]")
        raise typer.Exit(2)

    async def run(database: Database) -> RebuildResult:
        redis = make_redis(get_settings().redis_url)
        try:
            async with database.unit_of_work() as session:
                return await points.rebuild_rankings(session, redis, month=month)
        finally:
            await redis.aclose()

    result = run_with_database(run)
    console.print(
        f"rankings for {result.month}: {result.residents} residents in "
        f"{result.communities} communities"
    )


def _is_month(text: str) -> bool:
    return re.fullmatch(MONTH_PATTERN, text) is not None


@app.command()
def report(
    date_from: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First local day.")
    ],
    date_to: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last local day.")
    ],
    output: Annotated[str, typer.Option("--format", help="json, csv or table.")] = "table",
) -> None:
    """Points issued, reversed and redeemed by day, category and community, every community."""
    if output not in ("json", "csv", "table"):
        console.print("[red]--format is json, csv or table.[/red]")
        raise typer.Exit(2)

    async def run(database: Database) -> PointsReport:
        async with database.unit_of_work() as session:
            return await points.points_report(
                session, date_from=date_from.date(), date_to=date_to.date()
            )

    _print_report(run_with_database(run), output)


def _print_report(result: PointsReport, output: str) -> None:
    if output == "json":
        typer.echo(
            json.dumps(result.model_dump(mode="json", by_alias=True), ensure_ascii=False, indent=2)
        )
        return
    if output == "csv":
        typer.echo(points.report_csv(result), nl=False)
        return
    table = Table(title=f"Points {result.from_} to {result.to} ({result.timezone})")
    for column in CSV_COLUMNS:
        table.add_column(
            column, justify="right" if column in ("issued", "reversed", "redeemed") else "left"
        )
    for row in result.rows:
        table.add_row(
            row.day.isoformat(),
            row.category,
            row.community,
            str(row.issued),
            str(row.reversed),
            str(row.redeemed),
        )
    console.print(table)
    rate = "n/a" if result.redemption_rate is None else f"{result.redemption_rate:.2%}"
    console.print(
        f"issued {result.totals.issued}, reversed {result.totals.reversed}, "
        f"redeemed {result.totals.redeemed}; redemption rate {rate}"
    )


app.command("import")(import_command)  # integration feeds: cli/points_import.py
