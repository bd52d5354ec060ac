"""`wujiang ledger ...`: verify, seal, sweep and inspect the points ledger."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

import ledger
from cli.common import console, progress_bar
from cli.common import run_in_transaction as _run

ledger_app = typer.Typer(help="Inspect and verify the points ledger.", no_args_is_help=True)


@ledger_app.command()
def verify() -> None:
    """Check every ledger invariant and seal; exit 1 on any violation."""
    with progress_bar("verifying entries") as advance:
        report = _run(lambda s: ledger.verify(s, progress=advance))
    table = Table(title="Ledger", show_header=False)
    for label, value in [
        ("accounts", report.accounts),
        ("entries", report.entries),
        ("postings", report.postings),
        ("lots", report.lots),
        ("checkpoints", report.checkpoints),
        ("entries not yet sealed", report.unsealed_entries),
    ]:
        table.add_row(label, f"{value:,}")
    console.print(table)
    if report.ok:
        console.print("[green]ledger verified: every invariant holds[/green]")
        return
    for violation in report.violations:
        console.print(f"[red]{violation.check}[/red]: {violation.detail}")
    console.print(f"[red]{len(report.violations)} violation(s)[/red]")
    raise typer.Exit(1)


@ledger_app.command()
def seal() -> None:
    """Seal committed entries into hash checkpoints, one short transaction per checkpoint."""
    total = 0
    while (checkpoint := _run(ledger.seal)) is not None:
        total += checkpoint.entry_count
        console.print(
            f"checkpoint {checkpoint.id}: seq {checkpoint.first_seq}..{checkpoint.last_seq}, "
            f"{checkpoint.entry_count} entries"
        )
    console.print(f"sealed {total} entries" if total else "nothing to seal")


@ledger_app.command()
def expire(
    limit: Annotated[int, typer.Option(help="Accounts or holds per transaction.")] = 500,
) -> None:
    """Expire overdue lots and time out overdue holds, in batches, until none are left."""
    points = entries = holds = 0
    while (result := _run(lambda s: ledger.expire(s, limit=limit))).entries:
        entries += result.entries
        points += result.amount
    while voided := _run(lambda s: ledger.expire_holds(s, limit=limit)):
        holds += voided
    console.print(f"expired {points} in {entries} entries; timed out {holds} holds")


@ledger_app.command()
def balance(account: Annotated[str, typer.Argument(help="Account code.")]) -> None:
    """Print an account's balance."""
    out = _run(lambda s: ledger.get_account(s, code=account))
    console.print(f"{out.code}: {out.balance} {out.asset}")
