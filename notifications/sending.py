"""Sending claimed deliveries: push through the push adapter (FCM), text messages through the
SMS adapter, and recording each outcome.

A delivery moves `pending → sending → sent | dead | dropped`. Claiming it commits `sending`
with a lease before anything goes out; the outcome is recorded afterwards, fenced by the
attempt number, so a worker that outlived its lease cannot overwrite a newer attempt. A
worker killed between the two leaves the delivery `sending` until its lease ends; it is then
claimed again and re-sent under the same notification id, which FCM's collapse key and the
device's notification tag turn into one notification on the phone (see README, Worker)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core import clock
from core.db import Database, is_postgresql
from core.settings import Settings
from identity.contacts import Contact, contacts
from identity.errors import SmsUnavailable
from identity.sms import SmsSender
from notifications import devices, preferences
from notifications.backoff import next_attempt_at
from notifications.models import Delivery, Device
from notifications.preferences import Resolved
from notifications.push import PushMessage, PushOutcome, PushResult, PushSender
from notifications.topics import TOPICS, Channel

log = structlog.get_logger(__name__)

_delivery_t = Delivery.__table__  # type: ignore[attr-defined]
DUE = ("pending", "sending")
SMS_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this worker claimed: what it needs to send it and to record the outcome
    (`attempts` is the fence). A plain dataclass: thousands are made per second."""

    id: uuid.UUID
    resident_id: uuid.UUID
    channel: str
    device_id: uuid.UUID | None
    topic: str
    title: str
    body: str
    data: dict[str, str]
    urgent: bool
    attempts: int
    available_at: datetime


_CLAIMED = list(Claimed.__dataclass_fields__)


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended."""

    delivery: Claimed
    status: str  # sent | retry | dropped
    error: str | None = None
    retry_after: float | None = None


@dataclass
class Round:
    """What one send round did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    dropped: int = 0


async def claim(session: AsyncSession, *, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due deliveries (pending ones, and `sending` ones whose lease ran
    out) for this worker: they become `sending`, one attempt more, leased until now + lease.

    The lease end is also their `available_at`, so one index finds both kinds of due rows. On
    PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`: concurrent workers never claim
    the same delivery."""
    now = clock.now()
    due = (
        select(col(Delivery.id))
        .where(col(Delivery.status).in_(DUE), col(Delivery.available_at) <= now)
        .order_by(col(Delivery.available_at))
        .limit(limit)
    )
    if is_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    until = now + lease
    result = await session.execute(
        update(_delivery_t)
        .where(_delivery_t.c.id.in_(due.scalar_subquery()))
        .values(
            status="sending",
            attempts=_delivery_t.c.attempts + 1,
            available_at=until,
            lease_until=until,
        )
        .returning(*(_delivery_t.c[name] for name in _CLAIMED))
    )
    return [Claimed(*row) for row in result]


async def send_round(
    database: Database, push: PushSender, sms: SmsSender, settings: Settings
) -> Round:
    """Claim one batch (committed), send it, record the outcomes (committed)."""
    async with database.unit_of_work() as session:
        batch = await claim(
            session,
            limit=settings.worker_batch_size,
            lease=timedelta(seconds=settings.notify_lease_seconds),
        )
        residents = list({d.resident_id for d in batch})
        owned = await _devices(session, [d.device_id for d in batch if d.device_id])
        choices = await preferences.for_residents(session, residents)
        reach = await contacts(session, residents) if any(d.channel == "sms" for d in batch) else {}
    done = Round(claimed=len(batch))
    if not batch:
        return done
    outcomes = await _send(batch, owned, choices, reach, push, sms)
    async with database.unit_of_work() as session:
        await record(session, outcomes, choices, settings, done)
    return done


async def _devices(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Device]:
    if not ids:
        return {}
    rows = await session.execute(select(Device).where(col(Device.id).in_(set(ids))))
    return {d.id: d for d in rows.scalars()}


async def _send(
    batch: Sequence[Claimed],
    owned: dict[uuid.UUID, Device],
    choices: dict[uuid.UUID, Resolved],
    reach: dict[uuid.UUID, Contact],
    push: PushSender,
    sms: SmsSender,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    pushes: list[tuple[Claimed, PushMessage]] = []
    texts: list[tuple[Claimed, Contact]] = []
    for delivery in batch:
        topic = TOPICS[delivery.topic]
        channel = Channel(delivery.channel)
        if not choices[delivery.resident_id].wants(topic.group, channel):
            outcomes.append(Outcome(delivery, "dropped", "switched off by the resident"))
        elif channel is Channel.PUSH:
            device = owned.get(delivery.device_id) if delivery.device_id else None
            if device is None or device.resident_id != delivery.resident_id:
                outcomes.append(Outcome(delivery, "dropped", "device removed"))
            else:
                pushes.append((delivery, _push_message(delivery, device)))
        elif (contact := reach.get(delivery.resident_id)) is None:
            outcomes.append(Outcome(delivery, "dropped", "resident gone"))
        else:
            texts.append((delivery, contact))
    push_results, text_results = await asyncio.gather(
        push.send([message for _, message in pushes]) if pushes else _nothing(),
        _send_texts(sms, texts),
    )
    outcomes.extend(_from_push(d, r) for (d, _), r in zip(pushes, push_results, strict=True))
    outcomes.extend(text_results)
    return outcomes


async def _nothing() -> list[PushResult]:
    return []


def _push_message(delivery: Claimed, device: Device) -> PushMessage:
    return PushMessage(
        delivery_id=delivery.id,
        token=device.token,
        title=delivery.title,
        body=delivery.body,
        data=dict(delivery.data),
        urgent=delivery.urgent,
    )


def _from_push(delivery: Claimed, result: PushResult) -> Outcome:
    if result.outcome is PushOutcome.SENT:
        return Outcome(delivery, "sent")
    if result.outcome is PushOutcome.INVALID_TOKEN:
        return Outcome(delivery, "dropped", f"token invalid: {result.error}")
    return Outcome(delivery, "retry", result.error, result.retry_after)


async def _send_texts(sms: SmsSender, texts: Sequence[tuple[Claimed, Contact]]) -> list[Outcome]:
    gate = asyncio.Semaphore(SMS_CONCURRENCY)

    async def one(delivery: Claimed, contact: Contact) -> Outcome:
        async with gate:
            try:
                await sms.send(phone=contact.phone(), text=delivery.body)
            except SmsUnavailable as error:
                return Outcome(delivery, "retry", str(error)[:200])
            except Exception as error:  # any adapter failure is a failed attempt, never a crash
                log.error("notify.sms_failed", error=type(error).__name__)
                return Outcome(delivery, "retry", type(error).__name__)
            return Outcome(delivery, "sent")

    return list(await asyncio.gather(*(one(d, c) for d, c in texts)))


async def record(
    session: AsyncSession,
    outcomes: Sequence[Outcome],
    choices: dict[uuid.UUID, Resolved],
    settings: Settings,
    done: Round,
) -> None:
    """Write each outcome, fenced by (status `sending`, attempt number): only the attempt that
    claimed the delivery may close it. Invalid tokens are removed with their deliveries."""
    now = clock.now()
    rows: list[dict[str, Any]] = []
    invalid_devices: list[uuid.UUID] = []
    for outcome in outcomes:
        delivery = outcome.delivery
        values: dict[str, Any] = {
            "b_id": delivery.id,
            "b_attempts": delivery.attempts,
            "b_status": "sent",
            "b_available_at": delivery.available_at,
            "b_last_error": outcome.error,
            "b_sent_at": None,
        }
        if outcome.status == "sent":
            values["b_sent_at"] = now
            done.sent += 1
        elif outcome.status == "dropped":
            values["b_status"] = "dropped"
            done.dropped += 1
            if outcome.error and outcome.error.startswith("token invalid") and delivery.device_id:
                invalid_devices.append(delivery.device_id)
        elif delivery.attempts >= settings.notify_max_attempts:
            values["b_status"] = "dead"
            values["b_available_at"] = now  # when it died, for operators
            done.dead += 1
            log.error(
                "notify.dead_lettered",
                delivery_id=str(delivery.id),
                channel=delivery.channel,
                attempts=delivery.attempts,
                error=outcome.error,
            )
        else:
            values["b_status"] = "pending"
            values["b_available_at"] = _retry_at(delivery, outcome, choices, settings, now)
            done.retried += 1
        rows.append(values)
    if rows:
        await session.execute(
            update(_delivery_t)
            .where(
                _delivery_t.c.id == bindparam("b_id"),
                _delivery_t.c.attempts == bindparam("b_attempts"),
                _delivery_t.c.status == "sending",
            )
            .values(
                status=bindparam("b_status"),
                available_at=bindparam("b_available_at"),
                last_error=bindparam("b_last_error"),
                sent_at=bindparam("b_sent_at"),
                lease_until=None,
            ),
            rows,
        )
    if invalid_devices:
        await devices.drop(session, invalid_devices)


def _retry_at(
    delivery: Claimed,
    outcome: Outcome,
    choices: dict[uuid.UUID, Resolved],
    settings: Settings,
    now: datetime,
) -> datetime:
    at = next_attempt_at(
        now, attempts=delivery.attempts, settings=settings, retry_after=outcome.retry_after
    )
    if delivery.urgent:
        return at
    return choices[delivery.resident_id].quiet_until(at) or at
