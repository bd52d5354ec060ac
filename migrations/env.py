"""Alembic environment: async engines, SQLite batch mode, a lock timeout on PostgreSQL.

The database comes from, in order: a connection handed over in `config.attributes["connection"]`
(core.migrate, tests), `-x url=...`, the `sqlalchemy.url` option, then core.settings.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.runtime.migration import MigrationInfo
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import JSONB

from core.migrate import make_migration_engine
from core.settings import get_settings
from migrations.models import metadata

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

# A migration that waits longer than this for a lock fails instead of stalling live traffic.
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '5s'"


def database_url() -> str:
    """The URL to migrate when no connection was handed over."""
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    return x_url or config.get_main_option("sqlalchemy.url") or get_settings().database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Default rendering, made importable: types outside SQLAlchemy get their module imported,
    and JSONB (a variant, so rendered without the PostgreSQL impl) gets `sa.Text`."""
    if type_ != "type":
        return False
    if isinstance(obj, JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB(astext_type=sa.Text())"
    module = type(obj).__module__
    if not module.startswith("sqlalchemy."):
        autogen_context.imports.add(f"import {module}")
    return False


def record_step(*, step: MigrationInfo, **_kw: Any) -> None:
    """Collect applied steps for core.migrate's report."""
    steps = config.attributes.get("steps")
    if steps is None:
        return
    source = ",".join(step.source_revision_ids) or "base"
    destination = ",".join(step.destination_revision_ids) or "base"
    verb = "upgrade" if step.is_upgrade else "downgrade"
    steps.append(f"{verb} {source} -> {destination}: {step.up_revision.doc}")


def configure_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
        # SQLite does roll back DDL; run every migration of a run in one transaction, as on
        # PostgreSQL, so a failed run leaves nothing half-applied.
        "transactional_ddl": True if dialect_name == "sqlite" else None,
        "compare_type": True,
        "render_item": render_item,
        "on_version_apply": record_step,
    }


def run_migrations_offline() -> None:
    url = database_url()
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **configure_options(dialect_name),
    )
    with context.begin_transaction():
        if dialect_name == "postgresql":
            context.execute(LOCK_TIMEOUT)
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    dialect_name = connection.dialect.name
    context.configure(connection=connection, **configure_options(dialect_name))
    with context.begin_transaction():
        if dialect_name == "postgresql":
            connection.exec_driver_sql(LOCK_TIMEOUT)
        context.run_migrations()
        if dialect_name == "sqlite":
            _check_sqlite_foreign_keys(connection)


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    # Migrations ran with foreign keys off (core.migrate.make_migration_engine); make sure
    # they left no dangling reference behind before the transaction commits.
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise RuntimeError(f"migrations left foreign key violations: {violations[:10]}")


async def run_async_migrations() -> None:
    engine = make_migration_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
