from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from core.crypto import generate_key
from core.settings import DEV_LEDGER_HASH_KEY, Settings


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No WUJIANG_* variables (the test session sets some) and no .env file."""
    for name in list(os.environ):
        if name.startswith("WUJIANG_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_environment")
def test_embedded_defaults_need_no_services() -> None:
    settings = Settings(_env_file=None)

    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.is_sqlite
    assert settings.redis_url == "memory://"


@pytest.mark.usefixtures("clean_environment")
@pytest.mark.parametrize("env", ["production", "test"])
def test_default_secret_is_refused_outside_development(env: str) -> None:
    with pytest.raises(ValidationError, match="WUJIANG_LEDGER_HASH_KEY"):
        Settings(_env_file=None, env=env)


@pytest.mark.usefixtures("clean_environment")
def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(_env_file=None, env="production", ledger_hash_key="short")


@pytest.mark.usefixtures("clean_environment")
def test_production_needs_real_sms_and_verification_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WUJIANG_LEDGER_HASH_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("WUJIANG_DATA_KEYS", f"k1:{generate_key()}")
    monkeypatch.setenv("WUJIANG_BLIND_INDEX_KEY", generate_key())
    with pytest.raises(ValidationError, match="SMS_GATEWAY_URL and WUJIANG_VERIFICATION_URL"):
        Settings(_env_file=None, env="production")


@pytest.mark.usefixtures("clean_environment")
def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WUJIANG_ENV", "production")
    monkeypatch.setenv("WUJIANG_LEDGER_HASH_KEY", "a-real-secret-of-some-length")
    monkeypatch.setenv("WUJIANG_DATA_KEYS", f"k1:{generate_key()}")
    monkeypatch.setenv("WUJIANG_BLIND_INDEX_KEY", generate_key())
    monkeypatch.setenv("WUJIANG_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("WUJIANG_SMS_GATEWAY_URL", "https://sms.example/send")
    monkeypatch.setenv("WUJIANG_VERIFICATION_URL", "https://verify.example/check")

    settings = Settings(_env_file=None)

    assert settings.env == "production"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.ledger_hash_key.get_secret_value() != DEV_LEDGER_HASH_KEY
    assert "a-real-secret" not in repr(settings)


def test_the_test_session_uses_test_settings(settings: Settings) -> None:
    assert settings.env == "test"
    assert settings.database_url.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://"))
    assert "wujiang_test" in settings.database_url
