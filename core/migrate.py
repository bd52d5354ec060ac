"""Apply the Alembic migrations from code (CLI, tests) through the same env.py as `alembic`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import make_engine
from core.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = REPO_ROOT / "alembic.ini"
MIGRATIONS_DIR = REPO_ROOT / "migrations"


@dataclass(frozen=True)
class Migrated:
    """What a migration run did: revisions before and after, and each step applied."""

    before: tuple[str, ...]
    after: tuple[str, ...]
    steps: list[str] = field(default_factory=list)


def alembic_config() -> Config:
    """The project's Alembic config, usable from any working directory."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The caller owns logging; env.py must not reconfigure it from alembic.ini.
    config.attributes["configure_logger"] = False
    return config


def make_migration_engine(url: str) -> AsyncEngine:
    """An engine for running migrations; on SQLite with foreign keys off (checked afterwards)."""
    engine = make_engine(url, pool_size=1)
    if engine.dialect.name == "sqlite":
        # Batch mode rebuilds a table by copy, drop and rename; with foreign keys on, the drop
        # fails or cascades. Alembic's advice is to switch them off and check at the end.
        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    return engine


async def migrate(url: str | None = None, revision: str = "head") -> Migrated:
    """Upgrade the database at `url` (default: the configured one) to `revision`."""
    return await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str | None = None, revision: str = "base") -> Migrated:
    """Downgrade the database at `url` to `revision` (default: drop everything)."""
    return await _run(url, lambda config: command.downgrade(config, revision))


def run_migrations(url: str | None = None) -> Migrated:
    """Synchronous `migrate` for callers outside an event loop."""
    return asyncio.run(migrate(url))


async def _run(url: str | None, action: Callable[[Config], None]) -> Migrated:
    engine = make_migration_engine(url or get_settings().database_url)
    try:
        # One transaction for the whole run: on failure nothing is half-applied.
        async with engine.begin() as connection:
            return await connection.run_sync(_run_in_connection, action)
    finally:
        await engine.dispose()


def _run_in_connection(connection: Connection, action: Callable[[Config], None]) -> Migrated:
    config = alembic_config()
    config.attributes["connection"] = connection
    steps: list[str] = []
    config.attributes["steps"] = steps
    before = MigrationContext.configure(connection).get_current_heads()
    action(config)
    after = MigrationContext.configure(connection).get_current_heads()
    return Migrated(before=tuple(before), after=tuple(after), steps=steps)
