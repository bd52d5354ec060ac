from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings

runner = CliRunner()


def test_migrate_applies_then_reports_up_to_date(configured_database: str) -> None:
    first = runner.invoke(app, ["migrate"])
    second = runner.invoke(app, ["migrate"])

    assert first.exit_code == 0, first.output
    assert "applied upgrade base ->" in first.output
    assert second.exit_code == 0, second.output
    assert "already up to date" in second.output


def test_serve_runs_uvicorn_with_the_app_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr("cli.main.uvicorn.run", lambda *a, **kw: calls.append((a, kw)))

    result = runner.invoke(app, ["serve", "--port", "8123"])

    assert result.exit_code == 0, result.output
    [(args, kwargs)] = calls
    assert args == ("api.app:create_app",)
    assert kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8123)


def test_ledger_commands_are_registered() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "ledger" in result.output


def test_bad_configuration_exits_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUJIANG_LEDGER_HASH_KEY", "dev-only-ledger-hash-key-change-me")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["migrate"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    assert result.exit_code == 2
    assert "Invalid configuration" in result.output
