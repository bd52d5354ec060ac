"""`wujiang behaviours ...`: publish and show the behaviour list (正向行为清单)."""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

import points
from cli.common import console
from cli.common import run_in_transaction as _run

behaviours_app = typer.Typer(help="Publish and show the behaviour list.", no_args_is_help=True)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        return "cli"


@behaviours_app.command()
def publish(
    file: Annotated[
        Path | None,
        typer.Argument(help="YAML file with the list.", exists=True, dir_okay=False),
    ] = None,
    default: Annotated[
        bool,
        typer.Option(
            "--default",
            help="Publish the list shipped with the service, unless a list is published already.",
        ),
    ] = False,
) -> None:
    """Publish a list as the next version; the current list again changes nothing."""
    if (file is None) == (not default):
        console.print("[red]Give either a FILE or --default.[/red]")
        raise typer.Exit(2)
    document = (file or points.DEFAULT_BEHAVIOURS).read_text(encoding="utf-8")
    try:
        points.parse_behaviour_list(document)  # to list the problems one per line
    except points.InvalidBehaviourList as error:
        console.print(f"[red]{error.title}:[/red]")
        for problem in error.errors:
            console.print(f"  {problem['path']}: {problem['message']}", soft_wrap=True)
        raise typer.Exit(2) from error
    version, published = _run(lambda s: _publish(s, document, only_if_none=default))
    if not published:
        console.print(
            f"behaviour list version {version.number} is current; "
            "the default list is only published when there is none"
        )
        return
    console.print(
        f"behaviour list version {version.number}: {version.behaviour_count} behaviours, "
        f"published {version.published_at:%Y-%m-%d %H:%M} UTC by {version.published_by}"
    )


async def _publish(
    session: AsyncSession, document: str, *, only_if_none: bool
) -> tuple[points.VersionOut, bool]:
    # The default list never replaces one an operator published after it.
    if only_if_none:
        current = await points.current_version(session)
        digest = hashlib.sha256(document.encode()).hexdigest()
        if current is not None and current.source_sha256 != digest:
            return current, False
    return await points.publish_behaviours(
        session, document=document, published_by=_operator()
    ), True


@behaviours_app.command()
def show(
    category: Annotated[points.Category | None, typer.Option(help="Only this category.")] = None,
) -> None:
    """Print the current list: the behaviours active now."""
    listing = _run(
        lambda s: points.current_behaviours(s, category=category.value if category else None)
    )
    table = Table(title=f"Behaviour list, version {listing.version}")
    table.add_column("code", no_wrap=True)
    for column in ("category", "title", "points", "caps d/w/m/y", "certified by"):
        table.add_column(column)
    for b in listing.behaviours:
        caps = "/".join("-" if cap is None else str(cap) for cap in b.caps.model_dump().values())
        table.add_row(
            b.code,
            b.category,
            f"{b.title.zh} {b.title.en}",
            f"{b.points_per_unit} / {b.unit_label.zh}" + (" *" if b.evidence_required else ""),
            caps,
            b.certified_by,
        )
    console.print(table)
    console.print("* evidence required")
