"""Turning outbox messages into what is delivered: the inbox item and one delivery per device
(push) or, for a resident without the app, the text message. Pure database work in one
transaction per batch, so a crash anywhere in it leaves the messages as they were."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.db import is_postgresql, upsert
from core.ids import new_id
from identity.contacts import contacts
from notifications import devices, inbox, preferences
from notifications.models import Delivery, OutboxMessage
from notifications.preferences import Resolved
from notifications.templates import Rendered, TemplateError, render
from notifications.topics import TOPICS, Channel, Topic

log = structlog.get_logger(__name__)

_outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]
_delivery_t = Delivery.__table__  # type: ignore[attr-defined]
SMS_TARGET = "sms"


@dataclass
class FanOut:
    """What one batch did."""

    messages: int = 0
    deliveries: int = 0
    dead: int = 0
    dead_ids: list[uuid.UUID] = field(default_factory=list)


async def fan_out(session: AsyncSession, *, limit: int, timezone: str) -> FanOut:
    """Claim up to `limit` due outbox messages and fan them out, in the caller's transaction.

    On PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`: concurrent workers take disjoint
    batches. A message that cannot be rendered is dead-lettered with the reason."""
    now = clock.now()
    query = (
        select(OutboxMessage)
        .where(
            col(OutboxMessage.delivered_at).is_(None),
            col(OutboxMessage.dead_at).is_(None),
            col(OutboxMessage.available_at) <= now,
        )
        .order_by(col(OutboxMessage.available_at), col(OutboxMessage.id))
        .limit(limit)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    messages = (await session.execute(query)).scalars().all()
    done = FanOut(messages=len(messages))
    if not messages:
        return done
    residents = list({m.resident_id for m in messages if m.resident_id is not None})
    reach = await contacts(session, residents)
    tokens = await devices.tokens_for(session, residents)
    choices = await preferences.for_residents(session, residents)

    inbox_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    dead: dict[uuid.UUID, str] = {}
    for message in messages:
        contact = reach.get(message.resident_id) if message.resident_id else None
        if contact is None:
            continue  # nobody to tell (no resident, or one who no longer exists): done
        topic = TOPICS.get(message.topic)
        try:
            if topic is None:
                raise TemplateError(f"no topic {message.topic!r} is known")
            rendered = render(message.topic, message.payload, contact.language, timezone=timezone)
        except TemplateError as error:
            dead[message.id] = str(error)[:500]
            continue
        assert message.resident_id is not None
        inbox_rows.append(_inbox_row(message, rendered, now))
        delivery_rows.extend(
            _deliveries(
                message,
                topic,
                rendered,
                tokens.get(message.resident_id, []),
                choices[message.resident_id],
                now,
            )
        )
    await inbox.add_many(session, inbox_rows)
    if delivery_rows:
        await session.execute(upsert(session, _delivery_t).on_conflict_do_nothing(), delivery_rows)
    delivered = [m.id for m in messages if m.id not in dead]
    if delivered:
        await session.execute(
            update(_outbox_t)
            .where(_outbox_t.c.id.in_(delivered))
            .values(delivered_at=now, attempts=_outbox_t.c.attempts + 1)
        )
    for message_id, reason in dead.items():
        await session.execute(
            update(_outbox_t)
            .where(_outbox_t.c.id == message_id)
            .values(dead_at=now, last_error=reason, attempts=_outbox_t.c.attempts + 1)
        )
        log.error("outbox.dead_lettered", message_id=str(message_id), reason=reason)
    done.deliveries = len(delivery_rows)
    done.dead = len(dead)
    done.dead_ids = list(dead)
    return done


def _inbox_row(message: OutboxMessage, rendered: Rendered, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "resident_id": message.resident_id,
        "message_id": message.id,
        "topic": message.topic,
        "title": rendered.title,
        "body": rendered.body,
        "data": rendered.data,
        "created_at": now,
        "read_at": None,
    }


def _deliveries(
    message: OutboxMessage,
    topic: Topic,
    rendered: Rendered,
    owned: Sequence[Any],
    wants: Resolved,
    now: datetime,
) -> list[dict[str, Any]]:
    """One push delivery per device; a text message instead when the resident has no device
    (the SMS fallback); none on a channel the resident switched off for this topic."""
    due = now if topic.urgent else (wants.quiet_until(now) or now)
    rows = []
    if owned:
        if wants.wants(topic.group, Channel.PUSH):
            rows = [
                _delivery(message, rendered, Channel.PUSH, str(d.id), d.id, topic, due, now)
                for d in owned
            ]
    elif wants.wants(topic.group, Channel.SMS):
        rows = [_delivery(message, rendered, Channel.SMS, SMS_TARGET, None, topic, due, now)]
    return rows


def _delivery(
    message: OutboxMessage,
    rendered: Rendered,
    channel: Channel,
    target: str,
    device_id: uuid.UUID | None,
    topic: Topic,
    due: datetime,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "message_id": message.id,
        "resident_id": message.resident_id,
        "channel": channel.value,
        "target": target,
        "device_id": device_id,
        "topic": message.topic,
        "title": rendered.title,
        "body": rendered.sms if channel is Channel.SMS else rendered.body,
        "data": rendered.data,
        "urgent": topic.urgent,
        "status": "pending",
        "attempts": 0,
        "available_at": due,
        "lease_until": None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }
