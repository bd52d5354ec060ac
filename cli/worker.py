"""`wujiang worker` (deliver notifications, run the periodic jobs) and `wujiang outbox`
(what could not be delivered, and sending it again)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

import ledger
import points
from cli.common import console, run_in_transaction, run_with_database
from core import clock
from core.db import Database
from core.logging import configure_logging
from core.settings import Settings, get_settings
from identity.sms import SmsSender, sms_sender
from notifications import dead_letters
from notifications.push import PushSender, push_sender
from notifications.schedule import Job
from notifications.worker import Worker

outbox_app = typer.Typer(help="Notices that could not be delivered.", no_args_is_help=True)
BATCH = 500


async def _expire_points(database: Database) -> int:
    now, total = clock.now(), 0
    while True:
        async with database.unit_of_work() as session:
            swept = await points.expire_points(session, now=now, limit=BATCH)
        if swept.residents == 0:
            return total
        total += swept.points


async def _remind(database: Database) -> int:
    now, total, after = clock.now(), 0, None
    while True:
        async with database.unit_of_work() as session:
            step = await points.remind_expiring(session, now=now, after=after, limit=BATCH)
        total += step.reminders
        if (after := step.next_after) is None:
            return total


async def _expire_vouchers(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            done = await points.expire_vouchers(session, limit=BATCH)
        total += done
        if done < BATCH:
            return total


async def _time_out_holds(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            voided = await ledger.expire_holds(session, limit=BATCH)
        total += voided
        if not voided:
            return total


async def _seal(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            checkpoint = await ledger.seal(session)
        if checkpoint is None:
            return total
        total += checkpoint.entry_count


# Each in transactions of its own, in this order: vouchers close (releasing their holds)
# before the generic hold timeout looks at what is left.
JOBS = [
    Job("rewards.expire_vouchers", timedelta(minutes=1), _expire_vouchers),
    Job("ledger.time_out_holds", timedelta(minutes=1), _time_out_holds),
    Job("points.expire", timedelta(hours=1), _expire_points),
    Job("points.remind_expiring", timedelta(hours=1), _remind),
    Job("ledger.seal", timedelta(minutes=5), _seal),
]


def worker_parts(settings: Settings) -> tuple[PushSender, SmsSender]:
    """The senders the settings ask for (FCM or the log; the SMS gateway or the console)."""
    return push_sender(settings), sms_sender(settings)


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due, run due jobs, then exit.")
    ] = False,
    jobs: Annotated[bool, typer.Option(help="Run the periodic jobs too.")] = True,
) -> None:
    """Deliver notifications (outbox → inbox, push, SMS) and run the periodic jobs until
    stopped (SIGTERM or Ctrl-C finish the round in progress). Several may run on PostgreSQL."""
    settings = get_settings()
    # JSON lines with personal data scrubbed, as the API logs: a worker handles phone numbers.
    configure_logging(level=settings.log_level, json=settings.log_json)

    async def main(database: Database) -> None:
        push, sms = worker_parts(settings)
        try:
            runner = Worker(
                database,
                settings,
                push=push,
                sms=sms,
                jobs=JOBS if jobs else [],
            )
            if once:
                done = await runner.run_until_idle()
                console.print(
                    f"fanned out {done.fanned_out} message(s); sent {done.sent}, "
                    f"retrying {done.retried}, dead {done.dead}, dropped {done.dropped}; "
                    f"ran {done.jobs} job(s)"
                )
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await runner.run(stop)
        finally:
            await push.aclose()

    run_with_database(main)


@outbox_app.command("dead")
def dead(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100) -> None:
    """List dead letters: messages that could not be rendered, deliveries that kept failing."""
    letters = run_in_transaction(lambda s: dead_letters.list_dead(s, limit=limit))
    if not letters:
        console.print("no dead letters")
        return
    table = Table("kind", "id", "topic", "channel", "attempts", "when (UTC)", "error")
    for letter in letters:
        table.add_row(
            letter.kind,
            str(letter.id),
            letter.topic,
            letter.channel or "",
            str(letter.attempts),
            f"{letter.at:%Y-%m-%d %H:%M:%S}",
            letter.error or "",
        )
    console.print(table)


@outbox_app.command("requeue")
def requeue(
    ids: Annotated[list[uuid.UUID] | None, typer.Argument(help="Dead letter ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
) -> None:
    """Send dead letters again (after fixing what killed them), with fresh attempts."""
    if not ids and not all_:
        console.print("[red]Name dead letter ids, or pass --all.[/red]")
        raise typer.Exit(2)
    count = run_in_transaction(lambda s: dead_letters.requeue(s, ids=None if all_ else ids))
    console.print(f"requeued {count} dead letter(s)")
