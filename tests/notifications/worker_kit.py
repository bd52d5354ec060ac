"""What the worker tests share: residents with devices, the worker wired to the fake FCM and a
respx SMS gateway, and reading back what was delivered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import col

from core.db import Database
from core.settings import Settings
from identity import residents
from identity.sms import HttpSms
from notifications import devices, outbox
from notifications.models import Delivery, InboxItem, OutboxMessage
from notifications.push import push_sender
from notifications.worker import Worker
from tests.notifications.fcm_mock import FakeFcm
from tests.points_actors import make_resident

SMS_URL = "https://sms.example.test/send"


@dataclass(frozen=True)
class Resident:
    id: uuid.UUID
    tokens: list[str]


class SmsGateway:
    """The SMS gateway as respx sees it: every text it was asked to send."""

    def __init__(self, fake_fcm: FakeFcm) -> None:
        self.texts: list[dict[str, str]] = []
        self.fail_next = 0
        fake_fcm.router.post(SMS_URL).mock(side_effect=self._send)

    def _send(self, request: httpx.Request) -> httpx.Response:
        if self.fail_next:
            self.fail_next -= 1
            return httpx.Response(503)
        self.texts.append(httpx.Response(200, content=request.content).json())
        return httpx.Response(200, json={"ok": True})


async def resident(
    database: Database, phone: str, *, tokens: int = 1, language: str = "zh"
) -> Resident:
    """A signed-in resident with `tokens` registered devices (the sign-in's own security
    notice is in the outbox: `clear_outbox` forgets it)."""
    async with database.unit_of_work() as session:
        actor = await make_resident(session, phone=phone)
        made = []
        for i in range(tokens):
            token = f"fcm-{phone}-{i}-{uuid.uuid4().hex}"
            await devices.register(
                session, resident_id=actor.id, session_id=None, token=token, platform="android"
            )
            made.append(token)
        if language != "zh":
            await residents.set_language(session, resident_id=actor.id, language=language)
    return Resident(actor.id, made)


def make_worker(database: Database, settings: Settings, **overrides: Any) -> Worker:
    """The real worker, pushing to the fake FCM and texting through the respx gateway; close
    its push sender (`await worker.push.aclose()`) when done."""
    configured = settings.model_copy(
        update={"sms_gateway_url": SMS_URL, "sms_gateway_token": SecretStr("sms-secret")}
        | overrides
    )
    return Worker(
        database,
        configured,
        push=push_sender(configured),
        sms=HttpSms(SMS_URL, "sms-secret"),
    )


async def notify(database: Database, resident_id: uuid.UUID, topic: str, **payload: Any) -> None:
    async with database.unit_of_work() as session:
        await outbox.enqueue(session, topic=topic, resident_id=resident_id, payload=payload)


def awarded(points: int = 20) -> dict[str, Any]:
    return {
        "award_id": str(uuid.uuid4()),
        "points": points,
        "behaviour": "garbage-sorting",
        "title_zh": "垃圾分类",
        "title_en": "Waste sorting",
        "category": "green",
        "expires_at": "2027-12-31T15:59:59+00:00",
    }


async def clear_outbox(database: Database) -> None:
    """Forget notices queued while setting up (sign-in notices), so a test sees only its own."""
    async with database.unit_of_work() as session:
        await session.execute(OutboxMessage.__table__.delete())  # type: ignore[attr-defined]


async def deliveries(database: Database, resident_id: uuid.UUID | None = None) -> list[Delivery]:
    async with database.unit_of_work() as session:
        query = select(Delivery).order_by(col(Delivery.created_at))
        if resident_id is not None:
            query = query.where(col(Delivery.resident_id) == resident_id)
        return list((await session.execute(query)).scalars())


async def inbox_of(database: Database, resident_id: uuid.UUID) -> list[InboxItem]:
    async with database.unit_of_work() as session:
        query = select(InboxItem).where(col(InboxItem.resident_id) == resident_id)
        return list((await session.execute(query.order_by(col(InboxItem.id)))).scalars())


async def outbox_rows(database: Database) -> list[OutboxMessage]:
    async with database.unit_of_work() as session:
        return list((await session.execute(select(OutboxMessage))).scalars())
