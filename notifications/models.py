"""The outbox table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, String
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import JSONDoc, UTCDateTime

configure_metadata(SQLModel.metadata)


class OutboxMessage(SQLModel, table=True):
    """A notice to deliver, written in the transaction of the change it announces: it exists
    if and only if that change committed."""

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
