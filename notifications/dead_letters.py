"""What operators see of notices that could not be delivered, and how they send them again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from notifications.models import Delivery, OutboxMessage

_outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]
_delivery_t = Delivery.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DeadLetter:
    """A dead outbox message (it could not be rendered) or a dead delivery (every attempt to
    send it failed). Never the token or the phone number."""

    kind: str  # message | delivery
    id: uuid.UUID
    topic: str
    channel: str | None
    attempts: int
    error: str | None
    at: datetime


async def list_dead(session: AsyncSession, *, limit: int = 100) -> list[DeadLetter]:
    """The dead letters, newest first."""
    messages = await session.execute(
        select(OutboxMessage)
        .where(col(OutboxMessage.dead_at).is_not(None))
        .order_by(col(OutboxMessage.dead_at).desc())
        .limit(limit)
    )
    deliveries = await session.execute(
        select(Delivery)
        .where(col(Delivery.status) == "dead")
        .order_by(col(Delivery.available_at).desc())
        .limit(limit)
    )
    found = [
        DeadLetter(
            "message", m.id, m.topic, None, m.attempts, m.last_error, m.dead_at or m.created_at
        )
        for m in messages.scalars()
    ] + [
        DeadLetter("delivery", d.id, d.topic, d.channel, d.attempts, d.last_error, d.available_at)
        for d in deliveries.scalars()
    ]
    return sorted(found, key=lambda letter: letter.at, reverse=True)[:limit]


async def requeue(session: AsyncSession, *, ids: list[uuid.UUID] | None = None) -> int:
    """Make dead letters due again now (all of them, or those with these ids), with a fresh
    count of attempts; how many were requeued."""
    now = clock.now()
    messages = update(_outbox_t).where(_outbox_t.c.dead_at.is_not(None))
    deliveries = update(_delivery_t).where(_delivery_t.c.status == "dead")
    if ids is not None:
        messages = messages.where(_outbox_t.c.id.in_(ids))
        deliveries = deliveries.where(_delivery_t.c.id.in_(ids))
    revived = await session.execute(
        messages.values(dead_at=None, attempts=0, available_at=now).returning(_outbox_t.c.id)
    )
    resent = await session.execute(
        deliveries.values(
            status="pending", attempts=0, available_at=now, lease_until=None
        ).returning(_delivery_t.c.id)
    )
    return len(revived.all()) + len(resent.all())
