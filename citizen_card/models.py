"""Citizen card tables: the cards and the history of every status change."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Column, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import UTCDateTime

configure_metadata(SQLModel.metadata)


class CardStatus(enum.StrEnum):
    ISSUED = "issued"  # made, not yet bound to its resident's account
    ACTIVE = "active"
    REPORTED_LOST = "reported_lost"
    FROZEN = "frozen"
    CANCELLED = "cancelled"
    REPLACED = "replaced"


class Card(SQLModel, table=True):
    """One physical card. The number and the chip UID are personal data: stored as `core.crypto`
    tokens and found through keyed blind indexes; only the last four digits are kept plain
    (what a card shows masked, and what a hotline caller types)."""

    __tablename__ = "citizen_card"
    __table_args__ = (
        Index("ix_citizen_card_resident_status", "resident_id", "status"),
        # One active card per resident, however requests race.
        Index(
            "uq_citizen_card_one_active",
            "resident_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(nullable=False)
    number_token: str = Field(sa_column=Column(String(300), nullable=False))
    number_index: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    last4: str = Field(sa_column=Column(String(4), nullable=False))
    chip_uid_token: str = Field(sa_column=Column(String(300), nullable=False))
    chip_uid_index: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    # The card PIN (argon2), for kiosks and the hotline; failures lock the card for 24 h.
    pin_hash: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    pin_failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    pin_locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    replaces_id: uuid.UUID | None = Field(default=None, nullable=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class CardEvent(SQLModel, table=True):
    """Who changed a card's status (or PIN lock), when, through which channel and why."""

    __tablename__ = "citizen_card_event"

    id: uuid.UUID = Field(primary_key=True)
    card_id: uuid.UUID = Field(nullable=False, index=True)
    from_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    to_status: str = Field(sa_column=Column(String(16), nullable=False))
    # `resident:<id>`, `staff:<id>`, `kiosk:<id>`, `hotline`, `system`
    actor: str = Field(sa_column=Column(String(80), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(String(200), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
