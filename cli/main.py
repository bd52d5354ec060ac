"""`wujiang`: serve the API, migrate the database, and the sub-commands of each domain."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url

from cli.behaviours import behaviours_app
from cli.clients import clients_app
from cli.contract import contract_app
from cli.keys import keys_app
from cli.kiosks import kiosks_app
from cli.ledger import ledger_app
from cli.points import app as points_app
from cli.rewards import rewards_app
from cli.staff import staff_app
from cli.worker import outbox_app, worker
from core.logging import configure_logging
from core.migrate import run_migrations
from core.settings import Settings, get_settings

app = typer.Typer(help="Smart Wujiang platform operations.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(keys_app, name="keys")
app.add_typer(clients_app, name="clients")
app.add_typer(staff_app, name="staff")
app.add_typer(behaviours_app, name="behaviours")
app.add_typer(rewards_app, name="rewards")
app.add_typer(points_app, name="points")
app.add_typer(outbox_app, name="outbox")
app.add_typer(kiosks_app, name="kiosks")
app.add_typer(contract_app, name="contract")
app.command()(worker)

console = Console()


@app.callback()
def _every_command() -> None:
    """Log as the API does (JSON lines, personal data scrubbed) whatever the command. A bad
    configuration is left for the command itself to report."""
    try:
        settings = get_settings()
    except ValidationError:
        return
    configure_logging(level=settings.log_level, json=settings.log_json)


def load_settings() -> Settings:
    """Settings from WUJIANG_*; a bad configuration ends the command with a readable message."""
    try:
        return get_settings()
    except ValidationError as exc:
        console.print(f"[red]Invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (PostgreSQL; SQLite wants one).")
    ] = 1,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker",
            help="Also deliver notifications and run the periodic jobs in this process "
            "(one process for everything, as `make run` does); else run `wujiang worker`.",
        ),
    ] = False,
) -> None:
    """Run the HTTP API."""
    if with_worker:
        os.environ["WUJIANG_WORKER_IN_PROCESS"] = "true"  # for every uvicorn process
        get_settings.cache_clear()
    settings = load_settings()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,  # the request middleware logs one line per request already
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations up to the latest revision."""
    settings = load_settings()
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    result = run_migrations(settings.database_url)
    for step in result.steps:
        console.print(f"applied {step}")
    if result.steps:
        console.print(f"{database}: now at {', '.join(result.after)}")
    else:
        console.print(f"{database}: already up to date at {', '.join(result.after) or 'base'}")
