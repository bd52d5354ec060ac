"""`wujiang contract ...`: the OpenAPI contract the client apps are generated from."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from mobile_contract import snapshot
from mobile_contract.compat import ContractError, Report, compare, render
from mobile_contract.documents import read_document

contract_app = typer.Typer(
    help="Export and check the API contract the client apps are generated from.",
    no_args_is_help=True,
)

# Exit codes of `check`, for CI scripts.
ACCEPTED, BREAKING, UNREADABLE = 0, 1, 2


@contract_app.command()
def export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write it.")
    ] = snapshot.SNAPSHOT,
) -> None:
    """Write the running code's contract (what /openapi.json serves) to
    mobile_contract/openapi.json, or OUTPUT; review the diff like code."""
    from api.app import create_app  # the app only for this command: `check` needs none of it

    text = snapshot.render(create_app().openapi())
    changed = not output.exists() or output.read_text(encoding="utf-8") != text
    output.write_text(text, encoding="utf-8")
    typer.echo(f"{output}: {'written' if changed else 'unchanged'}")


@contract_app.command()
def check(
    old: Annotated[Path, typer.Argument(help="The contract clients are built against (JSON).")],
    new: Annotated[Path, typer.Argument(help="The contract about to ship (JSON).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the changes as JSON, for machines.")
    ] = False,
) -> None:
    """Classify every difference between two OpenAPI contracts for clients built against OLD.

    Exits 0 when nothing breaks or the major version of `info.version` went up, 1 on a
    breaking change without that, 2 when a file is unreadable or not OpenAPI 3.x."""
    try:
        report = compare(read_document(old), read_document(new))
    except ContractError as exc:
        typer.echo(f"Cannot compare: {exc}", err=True)
        raise typer.Exit(UNREADABLE) from exc
    typer.echo(_as_json(report) if as_json else render(report))
    raise typer.Exit(ACCEPTED if report.ok else BREAKING)


def _as_json(report: Report) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "old_version": report.old_version,
            "new_version": report.new_version,
            "major_bumped": report.major_bumped,
            "changes": [asdict(change) for change in report.changes],
        },
        ensure_ascii=False,
        indent=2,
    )
