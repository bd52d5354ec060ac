"""`wujiang kiosks ...`: register kiosks, rotate their secrets, revoke and list them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from channels.kiosk import devices
from channels.kiosk.devices import KioskOut
from cli.common import run_in_transaction

kiosks_app = typer.Typer(help="Register and manage self-service kiosks.", no_args_is_help=True)
console = Console()


def _print_secret(kiosk: KioskOut, secret: str) -> None:
    console.print(f"kiosk_id: {kiosk.id}")
    console.print(f"secret: {secret}", soft_wrap=True)
    console.print(
        f"The kiosk sends: Authorization: Kiosk {kiosk.id}:<secret>. "
        "Store the secret now: it is not shown again.",
        soft_wrap=True,
    )


@kiosks_app.command()
def add(
    name: Annotated[
        str, typer.Option(help="Shown in residents' activity, e.g. 松陵服务中心1号机.")
    ],
    community: Annotated[str, typer.Option(help="The community the kiosk stands in.")],
) -> None:
    """Register a kiosk; prints its id and, once, its secret."""
    if not name.strip() or not community.strip():
        console.print("[red]A kiosk needs a name and a community.[/red]")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> tuple[KioskOut, str]:
        return await devices.add(session, name=name, community=community)

    kiosk, secret = run_in_transaction(work)
    _print_secret(kiosk, secret)


@kiosks_app.command()
def rotate(kiosk_id: Annotated[str, typer.Argument(help="The kiosk's id.")]) -> None:
    """A new secret for a kiosk; the previous one keeps working for 10 minutes."""

    async def work(session: AsyncSession) -> tuple[KioskOut, str]:
        return await devices.rotate(session, kiosk_id=devices.parse_kiosk_id(kiosk_id))

    kiosk, secret = run_in_transaction(work)
    _print_secret(kiosk, secret)
    if kiosk.previous_valid_until is not None:
        until = f"{kiosk.previous_valid_until:%Y-%m-%d %H:%M:%S} UTC"
        console.print(f"The previous secret is accepted until {until}.")


@kiosks_app.command()
def revoke(kiosk_id: Annotated[str, typer.Argument(help="The kiosk's id.")]) -> None:
    """Refuse a kiosk from its next request on (for good: add a new one to replace it)."""

    async def work(session: AsyncSession) -> KioskOut:
        return await devices.revoke(session, kiosk_id=devices.parse_kiosk_id(kiosk_id))

    kiosk = run_in_transaction(work)
    console.print(f"revoked: {kiosk.id} {kiosk.name}")


@kiosks_app.command("list")
def list_() -> None:
    """Every kiosk, with its state and when it was last seen."""

    async def work(session: AsyncSession) -> list[KioskOut]:
        return await devices.list_kiosks(session)

    for kiosk in run_in_transaction(work):
        state = "revoked" if kiosk.revoked_at else "active"
        seen = f"{kiosk.last_seen_at:%Y-%m-%d %H:%M}" if kiosk.last_seen_at else "never seen"
        console.print(
            f"{kiosk.id}  {kiosk.name}  {kiosk.community}  {state}  {seen}", soft_wrap=True
        )
