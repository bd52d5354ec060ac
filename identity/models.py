"""Identity tables: residents, token-signing keys, sign-in sessions and refresh tokens.

Personal data (phone, name, ID number) is stored only as `core.crypto` tokens, plus a keyed
blind index where the system must find or deduplicate by it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import JSONDoc, UTCDateTime

configure_metadata(SQLModel.metadata)


class Assurance(enum.StrEnum):
    """How sure we are who the resident is (L1 to L3)."""

    PHONE = "phone"  # L1: controls the phone number
    REAL_NAME = "real_name"  # L2: name and ID number confirmed by the verification service
    IN_PERSON = "in_person"  # L3: counter staff saw the citizen card


class Resident(SQLModel, table=True):
    __tablename__ = "identity_resident"

    id: uuid.UUID = Field(primary_key=True)
    phone_token: str = Field(sa_column=Column(String(300), nullable=False))
    phone_index: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name_token: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    id_number_token: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    # One ID number belongs to one resident.
    id_number_index: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    assurance: str = Field(sa_column=Column(String(16), nullable=False))
    password_hash: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    language: str = Field(default="zh", sa_column=Column(String(8), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    real_name_verified_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )


class SigningKey(SQLModel, table=True):
    """An ES256 key pair for access and ID tokens. The newest unretired key signs; JWKS serves
    every unretired key, so tokens signed before a rotation still verify."""

    __tablename__ = "identity_signing_key"

    kid: str = Field(sa_column=Column(String(64), primary_key=True))
    algorithm: str = Field(sa_column=Column(String(16), nullable=False))
    private_key_token: str = Field(sa_column=Column(String(2000), nullable=False))
    public_jwk: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    retired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class AuthSession(SQLModel, table=True):
    """One sign-in on one device and channel; what a resident sees and revokes as a device."""

    __tablename__ = "identity_session"
    __table_args__ = (Index("ix_identity_session_subject", "subject_type", "subject"),)

    id: uuid.UUID = Field(primary_key=True)
    subject_type: str = Field(sa_column=Column(String(16), nullable=False))
    subject: str = Field(sa_column=Column(String(64), nullable=False))
    client_id: str = Field(sa_column=Column(String(100), nullable=False))
    channel: str = Field(sa_column=Column(String(16), nullable=False))
    assurance: str = Field(sa_column=Column(String(16), nullable=False))
    scope: str = Field(sa_column=Column(String(1000), nullable=False))
    device_name: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_used_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    revoked_reason: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class RefreshToken(SQLModel, table=True):
    """An opaque refresh token, stored only as its hash. Each use rotates it; presenting one
    already used revokes its session (the whole token family)."""

    __tablename__ = "identity_refresh_token"

    id: uuid.UUID = Field(primary_key=True)
    session_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("identity_session.id"), nullable=False, index=True)
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    replaced_by_id: uuid.UUID | None = Field(default=None, nullable=True)
