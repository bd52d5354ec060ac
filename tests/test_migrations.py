from __future__ import annotations

import io
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import make_engine
from core.migrate import alembic_config, downgrade, migrate
from migrations.models import metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _inspect(url: str, fn: Any) -> Any:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def test_migrated_database_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    assert differences == []


async def test_migrations_go_down_to_nothing_and_back_up(scratch_database_url: str) -> None:
    up = await migrate(scratch_database_url)
    assert up.before == ()
    assert len(up.after) == 1
    assert await _inspect(scratch_database_url, _tables) >= {
        t.name for t in metadata.tables.values()
    }

    down = await downgrade(scratch_database_url)
    assert down.after == ()
    assert await _inspect(scratch_database_url, _tables) == {"alembic_version"}

    again = await migrate(scratch_database_url)
    assert again.after == up.after
    assert await _inspect(scratch_database_url, _differences) == []


async def test_migrating_twice_changes_nothing(scratch_database_url: str) -> None:
    first = await migrate(scratch_database_url)
    second = await migrate(scratch_database_url)

    assert first.steps
    assert second.steps == []
    assert second.before == second.after == first.after


def test_postgresql_migrations_take_a_lock_timeout() -> None:
    config = alembic_config()
    config.output_buffer = io.StringIO()
    config.set_main_option("sqlalchemy.url", "postgresql+asyncpg://offline@localhost/offline")

    command.upgrade(config, "head", sql=True)  # offline: renders the SQL, connects to nothing

    sql = config.output_buffer.getvalue()
    assert sql.index("SET LOCAL lock_timeout = '5s'") < sql.index("CREATE TABLE")
