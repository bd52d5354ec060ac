"""Writing notices to the outbox. Call `enqueue` inside the use case's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.db import upsert
from core.ids import new_id
from notifications.models import OutboxMessage

_table = OutboxMessage.__table__  # type: ignore[attr-defined]


def message(
    *,
    topic: str,
    resident_id: uuid.UUID | None,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    available_at: datetime | None = None,
) -> dict[str, Any]:
    """One outbox row, ready for `enqueue_many`."""
    now = clock.now()
    return {
        "id": new_id(),
        "topic": topic,
        "resident_id": resident_id,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "available_at": available_at or now,
        "delivered_at": None,
    }


async def enqueue(
    session: AsyncSession,
    *,
    topic: str,
    resident_id: uuid.UUID | None,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    available_at: datetime | None = None,
) -> None:
    """Queue a notice in the caller's transaction; a `dedupe_key` already queued is ignored."""
    await enqueue_many(
        session,
        [
            message(
                topic=topic,
                resident_id=resident_id,
                payload=payload,
                dedupe_key=dedupe_key,
                available_at=available_at,
            )
        ],
    )


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Queue many notices built by `message` in one statement."""
    if not rows:
        return
    await session.execute(upsert(session, _table).on_conflict_do_nothing(), list(rows))


async def pending(
    session: AsyncSession, *, topic: str | None = None, resident_id: uuid.UUID | None = None
) -> Sequence[OutboxMessage]:
    """Undelivered notices, oldest first (for operators and tests until the worker lands)."""
    query = select(OutboxMessage).where(col(OutboxMessage.delivered_at).is_(None))
    if topic is not None:
        query = query.where(col(OutboxMessage.topic) == topic)
    if resident_id is not None:
        query = query.where(col(OutboxMessage.resident_id) == resident_id)
    query = query.order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    return (await session.execute(query)).scalars().all()
