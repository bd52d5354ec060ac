"""`wujiang staff …` against a scratch database: add, list, grant, revoke, disable."""

from __future__ import annotations

import asyncio
import re

import pytest
from typer.testing import CliRunner

from cli.main import app
from core import clock
from core.db import Database
from core.settings import get_settings
from identity import staff, totp
from identity.errors import InvalidCredentials

runner = CliRunner()
PASSWORD = "counter-wujiang-2026"


def add(*args: str, password: str = PASSWORD) -> str:
    result = runner.invoke(
        app,
        ["staff", "add", "li.wei", "--name", "李伟", *args, "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code == 0, result.output
    return result.output


async def _sign_in(username: str, secret: str) -> None:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as s:
            await staff.authenticate(
                s,
                username=username,
                password=PASSWORD,
                totp_code=totp.code_at(secret, totp.step_at(clock.now())),
            )
    finally:
        await database.dispose()


def test_add_prints_the_secret_once_and_the_account_signs_in(migrated_database: str) -> None:
    output = add("--role", "awarder:songling", "--role", "approver:*")

    secret = re.search(r"TOTP secret: ([A-Z2-7]{32})", output)[1]  # type: ignore[index]
    assert f"secret={secret}" in output
    assert "otpauth://totp/" in output
    assert PASSWORD not in output
    asyncio.run(_sign_in("li.wei", secret))
    listed = runner.invoke(app, ["staff", "list"])
    assert listed.exit_code == 0, listed.output
    assert "li.wei" in listed.output
    assert "approver:*" in listed.output
    assert "awarder:songling" in listed.output
    assert secret not in listed.output


def test_add_refuses_weak_passwords_bad_roles_and_duplicates(migrated_database: str) -> None:
    weak = runner.invoke(
        app, ["staff", "add", "li.wei", "--name", "李伟", "--password-stdin"], input="short\n"
    )
    bad_role = runner.invoke(
        app,
        ["staff", "add", "li.wei", "--name", "李伟", "--role", "boss:*", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    add()
    duplicate = runner.invoke(
        app, ["staff", "add", "li.wei", "--name", "李伟", "--password-stdin"], input=PASSWORD + "\n"
    )

    assert weak.exit_code == 2
    assert "password" in weak.output.lower()
    assert bad_role.exit_code == 2
    assert "Unknown role" in bad_role.output
    assert duplicate.exit_code == 2
    assert "taken" in duplicate.output


def test_add_prompts_twice_for_the_password(migrated_database: str) -> None:
    result = runner.invoke(
        app,
        ["staff", "add", "wang.fang", "--name", "王芳"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "created staff wang.fang" in result.output


def test_grant_revoke_and_disable(migrated_database: str) -> None:
    output = add("--role", "awarder:songling")
    secret = re.search(r"TOTP secret: ([A-Z2-7]{32})", output)[1]  # type: ignore[index]

    granted = runner.invoke(app, ["staff", "grant", "li.wei", "counter_clerk:pingwang"])
    again = runner.invoke(app, ["staff", "grant", "li.wei", "counter_clerk:pingwang"])
    revoked = runner.invoke(app, ["staff", "revoke", "li.wei", "awarder:songling"])
    missing = runner.invoke(app, ["staff", "grant", "nobody", "awarder:songling"])
    listed = runner.invoke(app, ["staff", "list"])
    disabled = runner.invoke(app, ["staff", "disable", "li.wei"])
    after = runner.invoke(app, ["staff", "list"])

    assert granted.exit_code == 0, granted.output
    assert "granted: li.wei counter_clerk:pingwang" in granted.output
    assert "already held" in again.output
    assert "revoked: li.wei awarder:songling" in revoked.output
    assert missing.exit_code == 2
    assert "counter_clerk:pingwang" in listed.output
    assert "awarder:songling" not in listed.output
    assert disabled.exit_code == 0, disabled.output
    assert "disabled li.wei" in disabled.output
    assert "disabled" in after.output
    with pytest.raises(InvalidCredentials):
        asyncio.run(_sign_in("li.wei", secret))
