"""The kiosk registry: secrets shown once and stored only as a keyed hash, rotation with a grace
period, revocation, last-seen at most once a minute; and `wujiang kiosks …` end to end."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from channels.kiosk import devices
from channels.kiosk.errors import KioskNotFound, KioskRevoked, KioskUnauthenticated
from channels.kiosk.models import Kiosk
from cli.main import app
from core import clock
from core.db import Database
from core.settings import get_settings

NOW = datetime(2026, 11, 10, 4, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def frozen() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


def header(kiosk_id: uuid.UUID | str, secret: str) -> str:
    return f"Kiosk {kiosk_id}:{secret}"


async def stored(session: AsyncSession, kiosk_id: uuid.UUID) -> Kiosk:
    found = await session.scalars(
        select(Kiosk).where(Kiosk.id == kiosk_id).execution_options(populate_existing=True)
    )
    return found.one()


@pytest.mark.usefixtures("frozen")
async def test_a_new_kiosk_gets_a_strong_secret_kept_only_as_a_keyed_hash(
    session: AsyncSession,
) -> None:
    kiosk, secret = await devices.add(session, name=" 松陵1号机 ", community="songling")
    _, other_secret = await devices.add(session, name="松陵2号机", community="songling")

    row = await stored(session, kiosk.id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", secret)
    assert secret != other_secret
    assert (kiosk.name, kiosk.community, kiosk.created_at) == ("松陵1号机", "songling", NOW)
    assert secret not in row.secret_hash
    assert row.secret_hash != hashlib.sha256(secret.encode()).hexdigest()  # keyed, not plain
    assert "secret" not in kiosk.model_dump_json()
    authenticated = await devices.authenticate(session, header(kiosk.id, secret))
    assert (authenticated.id, authenticated.name) == (kiosk.id, "松陵1号机")


@pytest.mark.usefixtures("frozen")
async def test_every_kind_of_bad_credentials_gets_the_same_refusal(session: AsyncSession) -> None:
    kiosk, secret = await devices.add(session, name="松陵1号机", community="songling")
    revoked, revoked_secret = await devices.add(session, name="松陵2号机", community="songling")
    await devices.revoke(session, kiosk_id=revoked.id)

    refusals = []
    for authorization in (
        None,
        "",
        f"Bearer {kiosk.id}:{secret}",
        f"Kiosk {kiosk.id}",
        f"Kiosk {kiosk.id}:",
        f"Kiosk not-a-uuid:{secret}",
        header(kiosk.id, secret + "x"),
        header(kiosk.id, secret[:-1]),
        header(uuid.uuid4(), secret),
        header(revoked.id, revoked_secret),
        header(kiosk.id, secret) + "x" * 300,
    ):
        with pytest.raises(KioskUnauthenticated) as refused:
            await devices.authenticate(session, authorization)
        refusals.append(refused.value.detail)

    assert len(set(refusals)) == 1
    assert await devices.authenticate(session, f"kiosk  {kiosk.id}:{secret} ")


async def test_rotation_keeps_the_old_secret_for_ten_minutes(session: AsyncSession) -> None:
    with clock.frozen(NOW):
        kiosk, old = await devices.add(session, name="松陵1号机", community="songling")
        rotated, new = await devices.rotate(session, kiosk_id=kiosk.id)
        assert new != old
        assert rotated.rotated_at == NOW
        assert rotated.previous_valid_until == NOW + timedelta(minutes=10)
        assert await devices.authenticate(session, header(kiosk.id, old))
        assert await devices.authenticate(session, header(kiosk.id, new))

    with clock.frozen(NOW + timedelta(minutes=9, seconds=59)):
        assert await devices.authenticate(session, header(kiosk.id, old))
    with clock.frozen(NOW + timedelta(minutes=10)):
        with pytest.raises(KioskUnauthenticated):
            await devices.authenticate(session, header(kiosk.id, old))
        assert await devices.authenticate(session, header(kiosk.id, new))


@pytest.mark.usefixtures("frozen")
async def test_rotating_twice_drops_the_oldest_secret_at_once(session: AsyncSession) -> None:
    kiosk, first = await devices.add(session, name="松陵1号机", community="songling")
    _, second = await devices.rotate(session, kiosk_id=kiosk.id)
    _, third = await devices.rotate(session, kiosk_id=kiosk.id)

    with pytest.raises(KioskUnauthenticated):
        await devices.authenticate(session, header(kiosk.id, first))
    assert await devices.authenticate(session, header(kiosk.id, second))
    assert await devices.authenticate(session, header(kiosk.id, third))


@pytest.mark.usefixtures("frozen")
async def test_revoking_refuses_current_and_previous_secrets_and_is_final(
    session: AsyncSession,
) -> None:
    kiosk, old = await devices.add(session, name="松陵1号机", community="songling")
    _, new = await devices.rotate(session, kiosk_id=kiosk.id)

    revoked = await devices.revoke(session, kiosk_id=kiosk.id)
    again = await devices.revoke(session, kiosk_id=kiosk.id)

    assert revoked.revoked_at == NOW
    assert again.revoked_at == NOW
    for secret in (old, new):
        with pytest.raises(KioskUnauthenticated):
            await devices.authenticate(session, header(kiosk.id, secret))
    with pytest.raises(KioskRevoked):
        await devices.rotate(session, kiosk_id=kiosk.id)
    with pytest.raises(KioskNotFound):
        await devices.revoke(session, kiosk_id=uuid.uuid4())


async def test_last_seen_is_written_at_most_once_a_minute(session: AsyncSession) -> None:
    with clock.frozen(NOW):
        kiosk, secret = await devices.add(session, name="松陵1号机", community="songling")
        assert (await stored(session, kiosk.id)).last_seen_at is None
        await devices.authenticate(session, header(kiosk.id, secret))
    for seconds, seen in ((30, NOW), (59, NOW), (60, NOW + timedelta(seconds=60))):
        with clock.frozen(NOW + timedelta(seconds=seconds)):
            await devices.authenticate(session, header(kiosk.id, secret))
        assert (await stored(session, kiosk.id)).last_seen_at == seen


@pytest.mark.usefixtures("frozen")
async def test_list_shows_every_kiosk_oldest_first(session: AsyncSession) -> None:
    first, _ = await devices.add(session, name="松陵1号机", community="songling")
    second, _ = await devices.add(session, name="盛泽1号机", community="shengze")
    await devices.revoke(session, kiosk_id=second.id)

    listed = await devices.list_kiosks(session)

    assert [(k.id, k.revoked_at) for k in listed] == [(first.id, None), (second.id, NOW)]
    with pytest.raises(KioskNotFound):
        devices.parse_kiosk_id("12345")


# --- the CLI ---------------------------------------------------------------------------------


def _authenticates(kiosk_id: str, secret: str) -> bool:
    async def main() -> bool:
        database = Database(get_settings())
        try:
            async with database.unit_of_work() as session:
                await devices.authenticate(session, header(kiosk_id, secret))
                return True
        except KioskUnauthenticated:
            return False
        finally:
            await database.dispose()

    return asyncio.run(main())


def _credentials(output: str) -> tuple[str, str]:
    kiosk_id = re.search(r"kiosk_id: ([0-9a-f-]{36})", output)
    secret = re.search(r"secret: ([A-Za-z0-9_-]{43,})", output)
    assert kiosk_id, output
    assert secret, output
    return kiosk_id[1], secret[1]


def test_cli_add_rotate_revoke_list(migrated_database: str) -> None:
    added = runner.invoke(app, ["kiosks", "add", "--name", "松陵1号机", "--community", "songling"])
    assert added.exit_code == 0, added.output
    kiosk_id, first = _credentials(added.output)
    assert "not shown again" in added.output
    assert _authenticates(kiosk_id, first)

    rotated = runner.invoke(app, ["kiosks", "rotate", kiosk_id])
    assert rotated.exit_code == 0, rotated.output
    rotated_id, second = _credentials(rotated.output)
    assert rotated_id == kiosk_id
    assert second != first
    assert "previous secret is accepted until" in rotated.output
    assert _authenticates(kiosk_id, first)
    assert _authenticates(kiosk_id, second)

    listed = runner.invoke(app, ["kiosks", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"{kiosk_id}  松陵1号机  songling  active" in listed.output
    assert first not in listed.output
    assert second not in listed.output

    revoked = runner.invoke(app, ["kiosks", "revoke", kiosk_id])
    assert revoked.exit_code == 0, revoked.output
    assert not _authenticates(kiosk_id, second)
    assert not _authenticates(kiosk_id, first)
    assert "revoked" in runner.invoke(app, ["kiosks", "list"]).output


def test_cli_refuses_unknown_and_revoked_kiosks(migrated_database: str) -> None:
    added = runner.invoke(app, ["kiosks", "add", "--name", "松陵1号机", "--community", "songling"])
    kiosk_id, _ = _credentials(added.output)
    runner.invoke(app, ["kiosks", "revoke", kiosk_id])

    unknown = runner.invoke(app, ["kiosks", "rotate", str(uuid.uuid4())])
    malformed = runner.invoke(app, ["kiosks", "revoke", "kiosk-1"])
    revoked = runner.invoke(app, ["kiosks", "rotate", kiosk_id])
    nameless = runner.invoke(app, ["kiosks", "add", "--name", " ", "--community", "songling"])

    assert unknown.exit_code == 2
    assert "No such kiosk" in unknown.output
    assert malformed.exit_code == 2
    assert revoked.exit_code == 2
    assert "revoked" in revoked.output
    assert nameless.exit_code == 2
