"""`wujiang ledger …` on a real database: verify passes on a sound ledger, fails on tampering."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cli.main import app
from core.db import Database
from core.settings import get_settings
from tests.factories import award, make_issuer, make_sink, make_wallet, spend
from tests.helpers import bypass_append_only

runner = CliRunner()


@pytest.fixture
def ledger_database(migrated_database: str) -> str:
    asyncio.run(_populate())
    return migrated_database


async def _populate() -> None:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as s:
            await make_issuer(s)
            await make_sink(s)
            wallet = await make_wallet(s, "resident:cli:wallet")
            for points in range(1, 30):
                await award(s, wallet, points)
            await spend(s, wallet, 100)
    finally:
        await database.dispose()


async def _tamper(url: str) -> None:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as s:
            await bypass_append_only(s)
            await s.execute(
                text("UPDATE ledger_entry SET memo = 'forged' WHERE key LIKE 'spend-%'")
            )
    finally:
        await database.dispose()


def test_verify_seal_and_tamper(ledger_database: str) -> None:
    sealed = runner.invoke(app, ["ledger", "seal"])
    clean = runner.invoke(app, ["ledger", "verify"])
    asyncio.run(_tamper(ledger_database))
    tampered = runner.invoke(app, ["ledger", "verify"])

    assert sealed.exit_code == 0, sealed.output
    assert "sealed 30 entries" in sealed.output
    assert clean.exit_code == 0, clean.output
    assert "every invariant holds" in clean.output
    assert tampered.exit_code == 1, tampered.output
    assert "entry-hash" in tampered.output
    assert "checkpoint" in tampered.output


def test_balance_and_expire(ledger_database: str) -> None:
    shown = runner.invoke(app, ["ledger", "balance", "resident:cli:wallet"])
    missing = runner.invoke(app, ["ledger", "balance", "resident:nobody:wallet"])
    swept = runner.invoke(app, ["ledger", "expire"])

    assert shown.exit_code == 0, shown.output
    assert "resident:cli:wallet: 335 PT" in shown.output
    assert missing.exit_code == 2
    assert "No ledger account" in missing.output
    assert swept.exit_code == 0, swept.output
    assert "expired 0 in 0 entries" in swept.output
