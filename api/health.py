"""Liveness (`/healthz`, no I/O) and readiness (`/readyz`, database and Redis reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis

from api.errors import problem
from api.routing import contract_router
from core.db import Database, get_database
from core.errors import PROBLEM_TYPE_PREFIX
from core.redis import get_redis

# Short enough for a load balancer's probe interval; a slower dependency counts as down.
CHECK_TIMEOUT_SECONDS = 2.0

router = contract_router(tags=["health"])
log = structlog.get_logger(__name__)


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """The process is alive and serving; touches nothing else."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    include_in_schema=False,
    responses={503: {"description": "A dependency is down (problem+json, `checks` member)."}},
)
async def readyz(
    request: Request,
    database: Annotated[Database, Depends(get_database)],
    redis: Annotated[Redis, Depends(get_redis)],
) -> Response:
    """Ready to take traffic when the database and Redis both answer in time."""
    results = await asyncio.gather(
        _check("database", database.ping),
        _check("redis", lambda: _ping_redis(redis)),
    )
    checks = dict(results)
    down = [name for name, state in checks.items() if state != "ok"]
    if not down:
        return JSONResponse({"status": "ready", "checks": checks})
    return problem(
        request,
        type_=PROBLEM_TYPE_PREFIX + "not-ready",
        title="Service not ready",
        status=503,
        detail="Unavailable: " + ", ".join(down),
        checks=checks,
    )


async def _check(name: str, probe: Callable[[], Awaitable[Any]]) -> tuple[str, str]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await probe()
    except Exception as exc:
        # The error type only: messages of connection errors can carry hosts and user names.
        log.warning("health.check_failed", check=name, error=type(exc).__name__)
        return name, "down"
    return name, "ok"


async def _ping_redis(redis: Redis) -> None:
    await redis.ping()
