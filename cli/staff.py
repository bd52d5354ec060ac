"""`wujiang staff ...`: create staff accounts, grant and revoke roles, disable, list.

Passwords never come from the command line (it shows in `ps` and shell history): from stdin with
`--password-stdin`, or typed at a hidden prompt twice. The TOTP secret is printed once, at `add`,
for the staff member to scan into an authenticator app; it cannot be shown again.
"""

from __future__ import annotations

import sys
from typing import Annotated

import segno
import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cli.common import console
from cli.common import run_in_transaction as _run
from core.errors import DomainError
from core.redis import make_redis
from core.settings import get_settings
from identity import staff, totp

staff_app = typer.Typer(help="Staff accounts and their roles.", no_args_is_help=True)

GrantOption = Annotated[
    list[str] | None,
    typer.Option(
        "--role",
        help="ROLE:COMMUNITY, repeatable (awarder:songling, approver:*). Roles: "
        + ", ".join(role.value for role in staff.StaffRole),
    ),
]


def _grant(text: str) -> tuple[str, str]:
    try:
        role, community = staff.parse_grant(text)
    except DomainError as error:
        console.print(f"[red]{error.title}:[/red] {error.detail}")
        raise typer.Exit(2) from error
    return role.value, community


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@staff_app.command()
def add(
    username: str,
    name: Annotated[str, typer.Option("--name", help="Display name, e.g. 李伟.")],
    roles: GrantOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first stdin line.")
    ] = False,
) -> None:
    """Create a staff account; prints its TOTP secret and provisioning QR code once."""
    grants = [_grant(text) for text in roles or []]
    password = _read_password(password_stdin)
    created, secret = _run(
        lambda s: staff.create(
            s, username=username, display_name=name, password=password, grants=grants
        )
    )
    uri = totp.provisioning_uri(secret, created.username)
    console.print(f"created staff {created.username} ({created.display_name})")
    console.print("grants: " + (", ".join(f"{r}:{c}" for r, c in sorted(grants)) or "none"))
    console.print("Scan into an authenticator app now; the secret is not shown again.")
    console.print(f"TOTP secret: {secret}", soft_wrap=True)
    console.print(f"provisioning URI: {uri}", soft_wrap=True, markup=False)
    if sys.stdout.isatty():
        segno.make(uri, error="m").terminal(compact=True)


@staff_app.command()
def grant(username: str, role: Annotated[str, typer.Argument(help="ROLE:COMMUNITY")]) -> None:
    """Give a staff member a role in a community (`*`: district-wide)."""
    role_name, community = _grant(role)
    added = _run(lambda s: staff.grant(s, username=username, role=role_name, community=community))
    verb = "granted" if added else "already held"
    console.print(f"{verb}: {username} {role_name}:{community}", markup=False)


@staff_app.command()
def revoke(username: str, role: Annotated[str, typer.Argument(help="ROLE:COMMUNITY")]) -> None:
    """Take a role away; the staff member's tokens lose it at their next refresh (minutes)."""
    role_name, community = _grant(role)
    removed = _run(
        lambda s: staff.revoke_grant(s, username=username, role=role_name, community=community)
    )
    verb = "revoked" if removed else "not held"
    console.print(f"{verb}: {username} {role_name}:{community}", markup=False)


@staff_app.command()
def disable(username: str) -> None:
    """Disable a staff account and sign it out everywhere."""

    async def work(session: AsyncSession) -> int:
        redis = make_redis(get_settings().redis_url)
        try:
            return await staff.disable(session, redis, username=username)
        finally:
            await redis.aclose()

    ended = _run(work)
    console.print(f"disabled {username}; ended {ended} session(s)", markup=False)


@staff_app.command("list")
def list_() -> None:
    """Every staff account and its grants (no secrets)."""
    accounts = _run(staff.list_staff)
    table = Table("username", "name", "grants", "status")
    for account in accounts:
        table.add_row(
            account.username,
            account.display_name,
            ", ".join(f"{role}:{community}" for role, community in account.grants) or "-",
            "disabled" if account.disabled_at else "active",
        )
    console.print(table)
