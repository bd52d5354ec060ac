"""`wujiang keys ...`: rotate the token-signing keys and the personal-data encryption keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from core.db import Database
from core.settings import get_settings
from identity import keys, rotation

keys_app = typer.Typer(help="Rotate signing and data-encryption keys.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the configured database, disposing of its engine afterwards."""

    async def main() -> T:
        database = Database(get_settings())
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


async def _rotate(database: Database) -> tuple[str, list[str]]:
    async with database.unit_of_work() as session:
        kid = await keys.rotate(session)
        valid = [jwk["kid"] for jwk in (await keys.public_jwks(session))["keys"]]
    return kid, valid


@keys_app.command()
def rotate() -> None:
    """Add a new token-signing key; the previous one stays valid, older ones are retired.

    Servers sign with the new key within a minute. Leave more than the access-token lifetime
    between two rotations: the second retires the key of every token the first left valid."""
    kid, valid = _with_database(_rotate)
    console.print(f"new signing key: {kid}")
    console.print("valid for verification (newest first):")
    for valid_kid in valid:
        console.print(f"  {valid_kid}")


@keys_app.command("rotate-data")
def rotate_data(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Rows per transaction.")
    ] = rotation.DEFAULT_BATCH_SIZE,
) -> None:
    """Re-encrypt every encrypted field under the current data key.

    The current key is the first of WUJIANG_DATA_KEYS. Safe to interrupt and to run again; once
    it has finished, the older keys can be dropped from the list."""
    with Progress(
        TextColumn("re-encrypting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("rows", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = _with_database(
            lambda db: rotation.rotate_data(db, batch_size=batch_size, progress=advance)
        )
    console.print(
        f"re-encrypted {report.fields} field(s) in {report.rows_changed} of {report.rows} row(s) "
        f"under data key {report.current_kid!r}",
        soft_wrap=True,  # one line, whatever the terminal width: scripts grep it
    )
