"""The notification tables: the outbox, the deliveries fanned out from it, the residents'
devices, inboxes and preferences, and the schedule of the worker's periodic jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import JSONDoc, UTCDateTime

configure_metadata(SQLModel.metadata)


class OutboxMessage(SQLModel, table=True):
    """A notice to deliver, written in the transaction of the change it announces: it exists
    if and only if that change committed. The worker fans it out (inbox row, one delivery per
    device and channel) and sets `delivered_at`; a message that cannot be fanned out (no
    template, a template that fails) is dead-lettered with `dead_at` and `last_error`."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_pending", "delivered_at", "available_at"),)

    id: uuid.UUID = Field(primary_key=True)
    # What happened, e.g. `points.awarded`; templates and preferences key on it.
    topic: str = Field(sa_column=Column(String(64), nullable=False))
    resident_id: uuid.UUID | None = Field(default=None, nullable=True, index=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    # A notice that must go out once (a reminder per lot and date) names itself; NULL otherwise.
    dedupe_key: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    available_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    dead_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Device(SQLModel, table=True):
    """A push token of one of a resident's devices, registered by the app after sign-in and
    removed at sign-out (its session) or when FCM reports it no longer valid."""

    __tablename__ = "notification_device"

    id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(nullable=False, index=True)
    # The sign-in session that registered it: ending the session removes the token.
    session_id: uuid.UUID | None = Field(default=None, nullable=True, index=True)
    token: str = Field(sa_column=Column(String(4096), nullable=False))
    # SHA-256 of the token: the unique key (a token moves to whoever registers it last).
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    platform: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Delivery(SQLModel, table=True):
    """One message to one device (push) or one phone (SMS): the unit the worker claims, sends,
    retries and dead-letters. The unique (message, target) pair is what makes a message go to
    each device once, however many workers run and however often one is restarted."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        UniqueConstraint("message_id", "target"),
        Index("ix_notification_delivery_due", "status", "available_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    message_id: uuid.UUID = Field(nullable=False, index=True)
    resident_id: uuid.UUID = Field(nullable=False, index=True)
    channel: str = Field(sa_column=Column(String(8), nullable=False))  # push | sms
    # The device id for push, `sms` for the text message.
    target: str = Field(sa_column=Column(String(40), nullable=False))
    device_id: uuid.UUID | None = Field(default=None, nullable=True)
    topic: str = Field(sa_column=Column(String(64), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(String(1000), nullable=False))
    data: dict[str, str] = Field(sa_column=Column(JSONDoc, nullable=False))
    urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # pending → sending → sent | dead | dropped (token gone or the channel switched off)
    status: str = Field(sa_column=Column(String(10), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    available_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # While `sending`: a worker that has not recorded the outcome by then is presumed dead.
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class InboxItem(SQLModel, table=True):
    """Every notice, kept for the resident to read in the app, on the TV and at the kiosk."""

    __tablename__ = "notification_inbox"
    __table_args__ = (
        Index("ix_notification_inbox_resident", "resident_id", "id"),
        Index("ix_notification_inbox_unread", "resident_id", "read_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(nullable=False)
    message_id: uuid.UUID = Field(nullable=False, unique=True)
    topic: str = Field(sa_column=Column(String(64), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(String(1000), nullable=False))
    data: dict[str, str] = Field(sa_column=Column(JSONDoc, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Preference(SQLModel, table=True):
    """A resident's choices: channels per topic and quiet hours. No row: the defaults."""

    __tablename__ = "notification_preference"

    resident_id: uuid.UUID = Field(primary_key=True)
    # {"points": {"push": true, "sms": false}, ...}; topics absent take the defaults.
    channels: dict[str, dict[str, bool]] = Field(sa_column=Column(JSONDoc, nullable=False))
    # Local (Asia/Shanghai) "HH:MM"; equal start and end means no quiet hours.
    quiet_start: str = Field(sa_column=Column(String(5), nullable=False))
    quiet_end: str = Field(sa_column=Column(String(5), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ScheduledJob(SQLModel, table=True):
    """When each of the worker's periodic jobs is next due: whichever worker moves `next_run_at`
    forward first runs the job, so several workers never run it twice at once."""

    __tablename__ = "worker_job"

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    next_run_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
