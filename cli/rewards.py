"""`wujiang rewards ...`: add rewards from YAML, list the catalogue, expire unused vouchers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import points
from cli.common import console, progress_bar
from cli.common import run_in_transaction as _run
from points.errors import InvalidReward

rewards_app = typer.Typer(help="The rewards catalogue and vouchers.", no_args_is_help=True)


@rewards_app.command()
def add(
    file: Annotated[
        Path, typer.Argument(help="YAML file: `rewards:` and a list.", exists=True, dir_okay=False)
    ],
) -> None:
    """Add one or several rewards; any problem (or a code that exists) adds none of them."""
    try:
        rewards = points.parse_rewards(file.read_text(encoding="utf-8"))
    except InvalidReward as error:
        _print_problems(error)
        raise typer.Exit(2) from error
    added = _run(lambda s: points.add_rewards(s, rewards=rewards))
    for reward in added:
        console.print(
            f"added {reward.code}: {reward.stock_total} in stock, {reward.points_cost} points"
            + (f" + {reward.cash_cents / 100:.2f} CNY" if reward.cash_cents else "")
            + f", at {reward.merchant}"
        )


@rewards_app.command("list")
def list_(
    all_: Annotated[
        bool, typer.Option("--all", help="Include withdrawn, sold-out and out-of-window ones.")
    ] = False,
) -> None:
    """Print the catalogue (by default what residents can redeem now)."""
    rewards = _run(lambda s: points.list_rewards(s, available_only=not all_))
    table = Table(title="Rewards" if all_ else "Rewards available now")
    for column in ("code", "kind", "title", "cost", "stock", "limit", "merchant", "active"):
        table.add_column(column, no_wrap=column == "code")
    for r in rewards:
        cost = f"{r.points_cost} pt" + (f" + ¥{r.cash_cents / 100:.2f}" if r.cash_cents else "")
        table.add_row(
            r.code,
            r.kind,
            f"{r.title.zh} {r.title.en}",
            cost,
            f"{r.stock_left}/{r.stock_total}",
            "-" if r.per_resident_limit is None else str(r.per_resident_limit),
            r.merchant,
            "yes" if r.active else "no",
        )
    console.print(table)


@rewards_app.command()
def expire(
    batch: Annotated[int, typer.Option(min=1, max=5000, help="Vouchers per transaction.")] = 500,
) -> None:
    """Close unused vouchers past their expiry and unpaid redemptions past their deadline:
    points released, stock back. Each batch commits on its own."""
    total = 0
    with progress_bar("expiring vouchers") as advance:
        while True:
            done = _run(lambda s: points.expire_vouchers(s, limit=batch))
            total += done
            advance(total, total)
            if done < batch:
                break
    console.print(f"expired {total} voucher(s)")


def _print_problems(error: InvalidReward) -> None:
    console.print(f"[red]{error.title}:[/red]")
    for problem in error.extensions.get("errors", []):
        console.print(f"  {problem['path']}: {problem['message']}", soft_wrap=True)
