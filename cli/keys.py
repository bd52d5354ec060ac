"""`wujiang keys ...`: rotate the token-signing keys and the personal-data encryption keys."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, progress_bar
from cli.common import run_with_database as _with_database
from core.db import Database
from identity import keys, rotation

keys_app = typer.Typer(help="Rotate signing and data-encryption keys.", no_args_is_help=True)


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
    with progress_bar("re-encrypting") as advance:
        report = _with_database(
            lambda db: rotation.rotate_data(db, batch_size=batch_size, progress=advance)
        )
    console.print(
        f"re-encrypted {report.fields} field(s) in {report.rows_changed} of {report.rows} row(s) "
        f"under data key {report.current_kid!r}",
        soft_wrap=True,  # one line, whatever the terminal width: scripts grep it
    )
