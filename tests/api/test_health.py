from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from core.db import Database, get_database
from core.redis import get_redis, make_redis
from core.settings import Settings
from tests.helpers import problem_of

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"
CLOSED_PORT_DATABASE = "postgresql+asyncpg://nobody@127.0.0.1:1/nothing"


@pytest.fixture
async def broken_database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.model_copy(update={"database_url": CLOSED_PORT_DATABASE}))
    yield database
    await database.dispose()


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_every_check_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_readyz_is_503_problem_when_redis_is_down(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    redis = make_redis(CLOSED_PORT_REDIS)
    app.dependency_overrides[get_redis] = lambda: redis
    try:
        response = await client.get("/readyz")
    finally:
        await redis.aclose()

    assert response.status_code == 503
    problem = problem_of(response)
    assert problem["type"] == "urn:wujiang:problem:not-ready"
    assert "redis" in problem["detail"]
    assert "database" not in problem["detail"]
    assert problem["checks"] == {"database": "ok", "redis": "down"}


async def test_readyz_is_503_problem_when_database_is_down(
    app: FastAPI, client: httpx.AsyncClient, broken_database: Database
) -> None:
    app.dependency_overrides[get_database] = lambda: broken_database

    response = await client.get("/readyz")

    assert response.status_code == 503
    problem = problem_of(response)
    assert problem["type"] == "urn:wujiang:problem:not-ready"
    assert problem["checks"] == {"database": "down", "redis": "ok"}
    assert "database" in problem["detail"]
    assert "nobody" not in response.text  # connection details stay in the server


async def test_readyz_counts_a_slow_dependency_as_down(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stalling:
        async def ping(self) -> None:
            import asyncio

            await asyncio.sleep(10)

    monkeypatch.setattr("api.health.CHECK_TIMEOUT_SECONDS", 0.05)
    app.dependency_overrides[get_redis] = Stalling

    response = await client.get("/readyz")

    assert response.status_code == 503
    assert problem_of(response)["checks"]["redis"] == "down"
