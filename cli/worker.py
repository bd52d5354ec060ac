"""`wujiang worker` (deliver notifications, run the periodic jobs) and `wujiang outbox`
(what could not be delivered, and sending it again)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Annotated

import typer

from cli.common import console, run_in_transaction, run_with_database
from core.db import Database
from core.settings import Settings, get_settings
from identity.sms import SmsSender, sms_sender
from notifications import dead_letters
from notifications.push import PushSender, push_sender
from notifications.worker import Worker
from points.jobs import JOBS

outbox_app = typer.Typer(help="Notices that could not be delivered.", no_args_is_help=True)


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
    # One line each, never cut to the terminal's width: operators copy the ids to requeue.
    heading = "kind      id                                    when (UTC)           attempts  "
    console.print(heading + "topic/channel: error", soft_wrap=True)
    for letter in letters:
        where = f"{letter.topic}/{letter.channel}" if letter.channel else letter.topic
        console.print(
            f"{letter.kind:<9} {letter.id}  {letter.at:%Y-%m-%d %H:%M:%S}  {letter.attempts:>8}  "
            f"{where}: {letter.error or ''}",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )


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
