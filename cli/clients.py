"""`wujiang clients ...`: register and list partner apps (OpenID Connect clients)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from core.db import Database
from core.errors import DomainError
from core.settings import get_settings
from identity import clients

clients_app = typer.Typer(help="Register and list partner apps.", no_args_is_help=True)
console = Console()


async def _add(**fields: Any) -> tuple[str, str | None]:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            client, secret = await clients.register(session, **fields)
            return client.client_id, secret
    finally:
        await database.dispose()


@clients_app.command()
def add(
    name: Annotated[str, typer.Option(help="Shown to residents on the consent page.")],
    redirect_uri: Annotated[list[str], typer.Option(help="Exact redirect URI; repeatable.")],
    scope: Annotated[str, typer.Option(help='Allowed scopes, e.g. "openid profile".')],
    auth_method: Annotated[
        str, typer.Option(help="client_secret_basic, private_key_jwt or none.")
    ] = "client_secret_basic",
    jwks_file: Annotated[
        Path | None, typer.Option(help="JWK set with the public key(s) of private_key_jwt.")
    ] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option(help="Allowed after sign-out; repeatable.")
    ] = None,
) -> None:
    """Register a partner app; prints its client_id and, once, its secret."""
    jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    try:
        client_id, secret = asyncio.run(
            _add(
                name=name,
                redirect_uris=redirect_uri,
                scopes=scope.split(),
                auth_method=auth_method,
                jwks=jwks,
                post_logout_redirect_uris=post_logout_redirect_uri or [],
            )
        )
    except DomainError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"client_id: {client_id}")
    if secret:
        console.print(f"client_secret: {secret}", soft_wrap=True)
        console.print("Store the secret now: it is not shown again.")


async def _list() -> list[tuple[str, str, str, str, bool]]:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            return [
                (c.client_id, c.name, c.auth_method, c.allowed_scopes, c.disabled_at is None)
                for c in await clients.list_clients(session)
            ]
    finally:
        await database.dispose()


@clients_app.command("list")
def list_() -> None:
    """Every registered partner app."""
    for client_id, name, method, scopes, enabled in asyncio.run(_list()):
        state = "" if enabled else " (disabled)"
        console.print(f"{client_id}  {name}  {method}  [{scopes}]{state}", soft_wrap=True)
