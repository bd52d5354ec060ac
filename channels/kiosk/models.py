"""Registered kiosks (自助一体机 / 电子信息屏) and their credentials."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import UTCDateTime

configure_metadata(SQLModel.metadata)


class Kiosk(SQLModel, table=True):
    """A kiosk device. It authenticates every request with its id and secret; only a keyed
    hash of the secret is stored. Rotating keeps the previous secret valid for a short grace
    period (the device picks the new one up); revoking refuses the device at once."""

    __tablename__ = "kiosk_device"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    community: str = Field(sa_column=Column(String(64), nullable=False))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    previous_secret_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    previous_valid_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    rotated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_seen_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
