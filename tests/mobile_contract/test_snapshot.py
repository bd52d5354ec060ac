"""The committed contract is the app's: a change to any client-facing operation shows up as a
diff of mobile_contract/openapi.json in review, never silently."""

from __future__ import annotations

import difflib

import pytest

from api.app import create_app
from mobile_contract import snapshot


def test_the_committed_contract_is_the_apps(settings) -> None:
    expected = snapshot.render(create_app(settings).openapi())
    committed = snapshot.SNAPSHOT.read_text(encoding="utf-8") if snapshot.SNAPSHOT.exists() else ""
    if committed != expected:
        diff = difflib.unified_diff(
            committed.splitlines(), expected.splitlines(), "committed", "app", n=1, lineterm=""
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(
            f"mobile_contract/openapi.json is not the app's contract. Regenerate it with "
            f"`.venv/bin/{snapshot.REGENERATE}`, review the diff, and run `wujiang contract "
            f"check` on the old and new files to see whether clients break.\n{shown}"
        )


def test_the_contract_does_not_depend_on_settings(settings, monkeypatch) -> None:
    monkeypatch.setattr(settings, "issuer", "https://elsewhere.example")
    monkeypatch.setattr(settings, "env", "production")

    assert snapshot.render(create_app(settings).openapi()) == snapshot.render(
        create_app().openapi()
    )
