"""Ticket tables."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Column, Index, Integer, String
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import UTCDateTime

configure_metadata(SQLModel.metadata)


class TicketKind(enum.StrEnum):
    CONSULTATION = "consultation"  # 咨询
    COMPLAINT = "complaint"  # 投诉
    SUGGESTION = "suggestion"  # 建议
    REPORT = "report"  # 城市问题上报


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"
    __table_args__ = (Index("ix_ticket_resident_status", "resident_id", "status"),)

    id: uuid.UUID = Field(primary_key=True)
    # What the agent reads out: WJ + local date + sequence, e.g. WJ20261125-000042.
    number: str = Field(sa_column=Column(String(24), nullable=False, unique=True))
    resident_id: uuid.UUID | None = Field(default=None, nullable=True)
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    body: str = Field(sa_column=Column(String(4000), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_by: str = Field(sa_column=Column(String(80), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # The satisfaction callback after closing: 1 to 5.
    rating: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    rated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class TicketEvent(SQLModel, table=True):
    __tablename__ = "ticket_event"

    id: uuid.UUID = Field(primary_key=True)
    ticket_id: uuid.UUID = Field(nullable=False, index=True)
    from_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    actor: str = Field(sa_column=Column(String(80), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
