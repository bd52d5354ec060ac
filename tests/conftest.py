"""Test infrastructure: one migrated database per test session (per xdist worker), each test in a
rolled-back transaction unless it asks for committed data.

Backends, chosen by environment:
- `WUJIANG_TEST_DATABASE_URL` (postgresql+asyncpg://...): a fresh `wujiang_test_<hex>` database is
  created next to the given one, migrated, and dropped at the end. Unset: a SQLite file.
- `WUJIANG_TEST_REDIS_URL` (redis://.../15): that Redis database, flushed at start and end.
  Unset: the in-process stand-in (`memory://`).
A configured but unreachable service skips the suite locally and stops it under CI=true.

Fixtures a test asks for:
- `session`: AsyncSession in a transaction rolled back after the test; code under test may
  `commit()` (it releases a savepoint).
- `client`: httpx.AsyncClient on a fresh app whose `get_session` yields that same `session`.
  `app` is the FastAPI instance behind it (add throwaway routes or dependency overrides to it).
- `committed_db`: the session's `core.db.Database`, with real commits from as many concurrent
  sessions as needed (`async with committed_db.unit_of_work() as s: ...`); every table is
  emptied afterwards. Do not combine with `session` (on SQLite that holds the write lock).
- `redis`: the Redis client (also `core.redis.get_redis()`), flushed after the test.
- `settings`, `database`, `engine`: session-wide; `scratch_database_url`: an empty database.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import ledger
from api.app import create_app
from api.deps import get_session
from core.db import Database, set_database
from core.errors import DomainError
from core.migrate import migrate
from core.redis import make_redis, set_redis
from core.settings import Settings, get_settings
from identity.keys import forget_cached_keys
from ledger.service.accounts import forget_cached_accounts
from migrations.models import metadata
from tests.contract_conformance import Conformance
from tests.helpers import bypass_append_only

TEST_LEDGER_HASH_KEY = "test-ledger-hash-key-0123456789"
# base64url of b"test-only-data-key-0123456789abc" and b"test-only-blind-index-key-012345".
TEST_DATA_KEYS = "test1:dGVzdC1vbmx5LWRhdGEta2V5LTAxMjM0NTY3ODlhYmM"
TEST_BLIND_INDEX_KEY = "dGVzdC1vbmx5LWJsaW5kLWluZGV4LWtleS0wMTIzNDU"
CONNECT_TIMEOUT_SECONDS = 5


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unreachable(what: str, error: BaseException) -> NoReturn:
    message = f"{what} is configured but unreachable: {type(error).__name__}: {error}"
    if _in_ci():
        pytest.exit(message, returncode=3)  # CI must never pass by skipping
    pytest.skip(message)


# --- PostgreSQL ------------------------------------------------------------------------------


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(url: str) -> asyncpg.Connection:
    """A plain asyncpg connection (autocommit) to the database named in `url`."""
    try:
        return await asyncpg.connect(_asyncpg_dsn(url), timeout=CONNECT_TIMEOUT_SECONDS)
    except Exception as exc:
        _unreachable("WUJIANG_TEST_DATABASE_URL", exc)


async def _create_postgres_database(admin_url: str, prefix: str = "wujiang_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    connection = await _admin(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    connection = await _admin(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _fresh_database_url(tmp_dir: Path) -> str:
    admin_url = os.environ.get("WUJIANG_TEST_DATABASE_URL")
    if admin_url:
        return await _create_postgres_database(admin_url)
    return f"sqlite+aiosqlite:///{tmp_dir / 'wujiang_test.db'}"


async def _discard_database_url(url: str) -> None:
    admin_url = os.environ.get("WUJIANG_TEST_DATABASE_URL")
    if admin_url and not url.startswith("sqlite"):
        await _drop_postgres_database(admin_url, url)


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """URL of this session's (this worker's) own empty database."""
    url = await _fresh_database_url(tmp_path_factory.mktemp("db"))
    yield url
    await _discard_database_url(url)


@pytest.fixture
async def scratch_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """Another empty database on the same backend, for tests that migrate or wreck one."""
    url = await _fresh_database_url(tmp_path)
    yield url
    await _discard_database_url(url)


# --- Redis -----------------------------------------------------------------------------------


def _redis_url_for_worker(url: str) -> str:
    # xdist workers share one server: each takes its own database number, counting down from
    # the configured one and never reaching 0, which is where real data usually lives.
    offset = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    if not offset:
        return url
    parts = urlsplit(url)
    number = int(parts.path.lstrip("/") or 0) - offset
    if number < 1:
        pytest.exit("too many xdist workers for the Redis databases available", returncode=3)
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture(scope="session")
async def redis_url() -> str:
    configured = os.environ.get("WUJIANG_TEST_REDIS_URL")
    if not configured:
        return "memory://"
    url = _redis_url_for_worker(configured)
    client = make_redis(url)
    try:
        await client.ping()
    except Exception as exc:
        _unreachable("WUJIANG_TEST_REDIS_URL", exc)
    finally:
        await client.aclose()
    return url


# --- Settings, database, Redis for the whole session -----------------------------------------


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Iterator[Settings]:
    """Test settings, also what `core.settings.get_settings()` returns during the session."""
    environment = {
        "WUJIANG_ENV": "test",
        "WUJIANG_DATABASE_URL": database_url,
        "WUJIANG_REDIS_URL": redis_url,
        "WUJIANG_LEDGER_HASH_KEY": TEST_LEDGER_HASH_KEY,
        "WUJIANG_DATA_KEYS": TEST_DATA_KEYS,
        "WUJIANG_BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY,
    }
    # Through the environment rather than by patching get_settings: modules hold their own
    # reference to it (`from core.settings import get_settings`).
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The migrated test database, installed as `core.db.get_database()`."""
    await migrate(settings.database_url)
    database = Database(settings)
    set_database(database)
    yield database
    set_database(None)
    await database.dispose()


@pytest.fixture(scope="session")
def engine(database: Database) -> AsyncEngine:
    return database.engine


@pytest.fixture(scope="session")
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    """The session's Redis client, installed as `core.redis.get_redis()`."""
    client = make_redis(settings.redis_url)
    await client.flushdb()
    set_redis(client)
    yield client
    set_redis(None)
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session", autouse=True)
def _test_environment(database: Database, redis_client: Redis) -> None:
    """Every test runs against the test database and Redis, never a developer's own."""


@pytest.fixture(autouse=True)
def _session_settings(settings: Settings) -> None:
    """`get_settings()` is the session's `settings` object in every test, even after a test that
    pointed it elsewhere (the CLI tests): patching `settings` then reaches all the code."""
    get_settings.install(settings)


@pytest.fixture(autouse=True)
def _fresh_signing_key_cache() -> None:
    """Signing keys are cached per process; each test's keys live in its own transaction."""
    forget_cached_keys()


# --- Per-test fixtures ------------------------------------------------------------------------


@pytest.fixture
async def session(
    engine: AsyncEngine, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is rolled back after the test — once the
    ledger it leaves behind has passed `ledger.verify` (see `_check_ledger`)."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
            await _check_ledger(session, request)
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture
async def committed_db(
    database: Database, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """Real commits on the session's database; every table is emptied before and after, once
    what the test committed has passed `ledger.verify`."""
    await _empty_all_tables(database)
    yield database
    try:
        async with database.unit_of_work() as session:
            await _check_ledger(session, request)
    finally:
        await _empty_all_tables(database)


async def _check_ledger(session: AsyncSession, request: pytest.FixtureRequest) -> None:
    """Every test leaves a ledger that verifies — the invariants hold after whatever it did —
    unless it forges rows on purpose (`@pytest.mark.forges_ledger`)."""
    if request.node.get_closest_marker("forges_ledger") is not None:
        return
    if session.in_transaction() and not session.is_active:
        return  # the test broke its own transaction; its failure says why
    report = await ledger.verify(session)
    assert report.ok, f"ledger.verify after the test: {report.violations[:5]}"


async def _empty_all_tables(database: Database) -> None:
    async with database.engine.begin() as connection:
        await bypass_append_only(connection)
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
    forget_cached_accounts()  # accounts were deleted behind the ledger's back


@pytest.fixture
async def redis(redis_client: Redis) -> AsyncIterator[Redis]:
    yield redis_client
    await redis_client.flushdb()


@pytest.fixture
def app(settings: Settings, session: AsyncSession) -> FastAPI:
    """A fresh app whose requests run in savepoints of the test's rolled-back `session`: each
    request commits or rolls back its own changes as the real unit of work does (a refusal
    leaves nothing behind, unless it keeps its changes), and the test sees exactly that."""
    app = create_app(settings)

    async def _test_session() -> AsyncIterator[AsyncSession]:
        savepoint = await session.begin_nested()
        try:
            yield session
        except DomainError as refusal:
            await (savepoint.commit() if refusal.keeps_changes else savepoint.rollback())
            raise
        except BaseException:
            await savepoint.rollback()
            raise
        else:
            await savepoint.commit()

    app.dependency_overrides[get_session] = _test_session
    return app


@pytest.fixture(scope="session")
def conformance(settings: Settings) -> Conformance:
    """The contract's checks, run on every response the HTTP clients below receive."""
    return Conformance(create_app(settings).openapi())


@pytest.fixture
async def client(app: FastAPI, conformance: Conformance) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        event_hooks={"response": [conformance.check]},
    ) as client:
        yield client


@pytest.fixture
async def committed_client(
    settings: Settings, committed_db: Database, conformance: Conformance
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app with real request transactions (no shared test session): for
    requests that must run concurrently, each in its own unit of work."""
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        event_hooks={"response": [conformance.check]},
    ) as client:
        yield client


@pytest.fixture
def configured_database(
    scratch_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """WUJIANG_DATABASE_URL (and so get_settings()) pointed at an empty database for one test:
    for commands that open their own connections, such as the CLI."""
    monkeypatch.setenv("WUJIANG_DATABASE_URL", scratch_database_url)
    get_settings.cache_clear()
    yield scratch_database_url
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def migrated_database(configured_database: str) -> str:
    """The configured database, migrated to the latest revision."""
    asyncio.run(migrate(configured_database))
    return configured_database
