"""Database engine and the unit of work: one transaction per use case, committed in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, Table, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.errors import DomainError
from core.settings import Settings, get_settings


def is_postgresql(session: AsyncSession) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite): for the few statements that
    differ, such as `FOR UPDATE SKIP LOCKED`, which SQLite has no need of and no syntax for."""
    return session.get_bind().dialect.name == "postgresql"


def upsert(session: AsyncSession, table: Table) -> Any:
    """An INSERT into `table` in the session's dialect, which offers ON CONFLICT (DO NOTHING /
    DO UPDATE … WHERE) on both PostgreSQL and SQLite."""
    if is_postgresql(session):
        return pg_insert(table)
    return sqlite_insert(table)


# Stable constraint names, so Alembic migrations name things the same on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Execution option: on SQLite, begin with a plain (deferred) BEGIN instead of BEGIN IMMEDIATE.
DEFERRED_BEGIN = "wujiang_deferred_begin"


def configure_metadata(metadata: MetaData) -> None:
    metadata.naming_convention = NAMING_CONVENTION


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An engine for `url`; SQLite gets real transactions (savepoints, BEGIN IMMEDIATE)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _make_sqlite_transactional(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout (a tenth of an award). Connections are
    # recycled before server or proxy idle timeouts instead, and a dropped connection fails one
    # unit of work, which rolls back whole and is safe for the client to retry.
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )


def _make_sqlite_transactional(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and defers locking until the first
    # write; take over BEGIN so each unit of work holds the write lock from its start.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Reads that must not queue behind a writer (health checks) opt into a deferred BEGIN.
        deferred = connection.get_execution_options().get(DEFERRED_BEGIN, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


class Database:
    """The process-wide engine and session factory for one database URL."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits if the block returns and rolls back otherwise
        (except for a refusal whose side effects must stand: see DomainError.keeps_changes)."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except DomainError as refusal:
                await (session.commit() if refusal.keeps_changes else session.rollback())
                raise
            except BaseException:
                await session.rollback()
                raise
            else:
                await session.commit()

    async def ping(self) -> None:
        """One round trip (`SELECT 1`) that never waits for SQLite's write lock."""
        async with self.engine.connect() as connection:
            connection = await connection.execution_options(**{DEFERRED_BEGIN: True})
            await connection.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        await self.engine.dispose()


_database: Database | None = None


def get_database() -> Database:
    global _database
    if _database is None:
        _database = Database(get_settings())
    return _database


def set_database(database: Database | None) -> None:
    """Swap the process-wide database (tests, CLI with an explicit URL)."""
    global _database
    _database = database
