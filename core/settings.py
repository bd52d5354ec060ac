"""One settings class for every entry point (HTTP, CLI, workers), read from `WUJIANG_*`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Well-known development values: usable on a laptop, refused anywhere else.
DEV_LEDGER_HASH_KEY = "dev-only-ledger-hash-key-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WUJIANG_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./wujiang.db"
    redis_url: str = "memory://"
    database_pool_size: int = 10
    log_level: str = "INFO"
    log_json: bool = True
    # Keys the ledger's tamper-evidence HMAC; without it, hashes cannot be forged from the database.
    ledger_hash_key: SecretStr = SecretStr(DEV_LEDGER_HASH_KEY)
    # A checkpoint seals at most this many entries; `ledger checkpoint` repeats until caught up.
    ledger_checkpoint_size: int = 1000

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env != "development":
            if self.ledger_hash_key.get_secret_value() == DEV_LEDGER_HASH_KEY:
                raise ValueError(
                    "WUJIANG_LEDGER_HASH_KEY still has its development default; "
                    f"set a secret of your own for env={self.env}"
                )
            if len(self.ledger_hash_key.get_secret_value()) < 16:
                raise ValueError("WUJIANG_LEDGER_HASH_KEY must be at least 16 characters")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
