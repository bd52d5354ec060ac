"""Small helpers shared by tests (assertions and, later, async data factories)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem+json body of `response`, checking the media type and status on the way."""
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return body


async def bypass_append_only(connection: AsyncConnection | AsyncSession) -> None:
    """Let this transaction change ledger history, as only a superuser could: PostgreSQL's
    append-only triggers stay off until it ends. For emptying tables and forging rows."""
    bind = connection if isinstance(connection, AsyncConnection) else connection.get_bind()
    if bind.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL session_replication_role = replica"))


def with_key(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    """`headers` with an Idempotency-Key, as a well-behaved client sends on every write."""
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}
