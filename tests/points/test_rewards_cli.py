"""`wujiang rewards …` on a scratch database: add from a file, list, and expire in batches."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

import points
from cli.main import app
from core import clock
from core.db import Database
from core.ids import new_id
from core.settings import get_settings
from tests.points.test_rewards import fund, reward_fields, reward_yaml

runner = CliRunner()


def test_add_then_list(migrated_database: str, tmp_path: Path) -> None:
    catalogue = tmp_path / "rewards.yaml"
    catalogue.write_text(
        reward_yaml(reward_fields(), reward_fields("haircut", kind="service", cash_cents=1500)),
        encoding="utf-8",
    )

    added = runner.invoke(app, ["rewards", "add", str(catalogue)])
    again = runner.invoke(app, ["rewards", "add", str(catalogue)])
    listed = runner.invoke(app, ["rewards", "list"])

    assert added.exit_code == 0, added.output
    assert "added tote-bag: 10 in stock, 50 points, at songling-mart" in added.output
    assert "+ 15.00 CNY" in added.output
    assert again.exit_code == 2, again.output
    assert "exists already" in again.output
    assert listed.exit_code == 0, listed.output
    assert "tote-bag" in listed.output
    assert "haircut" in listed.output


def test_an_invalid_file_lists_every_problem(migrated_database: str, tmp_path: Path) -> None:
    catalogue = tmp_path / "rewards.yaml"
    catalogue.write_text(
        reward_yaml(reward_fields(kind="car"), reward_fields("b", stock=-1)), encoding="utf-8"
    )

    result = runner.invoke(app, ["rewards", "add", str(catalogue)])

    assert result.exit_code == 2, result.output
    assert "rewards[0].kind" in result.output
    assert "rewards[1].code" in result.output
    assert "rewards[1].stock" in result.output


def test_expire_runs_in_batches(migrated_database: str, tmp_path: Path) -> None:
    asyncio.run(_three_vouchers_past_expiry())

    with clock.frozen(clock.now() + timedelta(days=2)):
        result = runner.invoke(app, ["rewards", "expire", "--batch", "2"])
        listed = runner.invoke(app, ["rewards", "list"])

    assert result.exit_code == 0, result.output
    assert "expired 3 voucher(s)" in result.output
    assert "10/10" in listed.output


async def _three_vouchers_past_expiry() -> None:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as session:
            await points.add_rewards(
                session,
                rewards=points.parse_rewards(reward_yaml(reward_fields(voucher_valid_days=1))),
            )
            for _ in range(3):
                resident_id = new_id()
                await fund(session, resident_id, 50)
                await points.redeem(
                    session,
                    resident_id=resident_id,
                    reward_code="tote-bag",
                    idempotency_key="k",
                )
    finally:
        await database.dispose()
