"""Identity tables: residents, token-signing keys, sign-in sessions and refresh tokens.

Personal data (phone, name, ID number) is stored only as `core.crypto` tokens, plus a keyed
blind index where the system must find or deduplicate by it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import JSONDoc, UTCDateTime

configure_metadata(SQLModel.metadata)


class Assurance(enum.StrEnum):
    """How sure we are who the resident is (L1 to L3)."""

    PHONE = "phone"  # L1: controls the phone number
    REAL_NAME = "real_name"  # L2: name and ID number confirmed by the verification service
    IN_PERSON = "in_person"  # L3: counter staff saw the citizen card


def assurance_rank(value: str) -> int:
    """1 for L1 up to 3 for L3, so levels compare; 0 for anything else (a staff `acr`)."""
    try:
        return list(Assurance).index(Assurance(value)) + 1
    except ValueError:
        return 0


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


class Client(SQLModel, table=True):
    """A partner application that signs residents in with Smart Wujiang (OpenID Connect)."""

    __tablename__ = "identity_client"

    client_id: str = Field(sa_column=Column(String(100), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # Exact strings: a redirect URI is matched character for character, never by prefix.
    redirect_uris: list[str] = Field(sa_column=Column(JSONDoc, nullable=False))
    post_logout_redirect_uris: list[str] = Field(sa_column=Column(JSONDoc, nullable=False))
    allowed_scopes: str = Field(sa_column=Column(String(1000), nullable=False))
    # client_secret_basic, private_key_jwt, or none (public clients: PKCE alone).
    auth_method: str = Field(sa_column=Column(String(32), nullable=False))
    secret_hash: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    jwks: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDoc, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Consent(SQLModel, table=True):
    """What a resident allowed a partner to receive; withdrawn from the app at any time."""

    __tablename__ = "identity_consent"
    __table_args__ = (UniqueConstraint("resident_id", "client_id"),)

    id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("identity_resident.id"), nullable=False)
    )
    client_id: str = Field(
        sa_column=Column(ForeignKey("identity_client.client_id"), nullable=False, index=True)
    )
    scopes: str = Field(sa_column=Column(String(1000), nullable=False))
    granted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )


class StaffRole(enum.StrEnum):
    AWARDER = "awarder"
    APPROVER = "approver"
    MERCHANT_CASHIER = "merchant_cashier"
    COUNTER_CLERK = "counter_clerk"
    ADMIN = "admin"


class Staff(SQLModel, table=True):
    """A community worker, merchant cashier, clerk or operator. Signs in with a password and a
    TOTP second factor."""

    __tablename__ = "identity_staff"

    id: uuid.UUID = Field(primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=Column(String(100), nullable=False))
    password_hash: str = Field(sa_column=Column(String(300), nullable=False))
    totp_secret_token: str = Field(sa_column=Column(String(300), nullable=False))
    # The last TOTP time step accepted: a code is good once, even within its 30 s.
    totp_last_step: int = Field(default=0, nullable=False)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class StaffGrant(SQLModel, table=True):
    """One role of a staff member in one community (社区); `*` for district-wide."""

    __tablename__ = "identity_staff_grant"
    __table_args__ = (UniqueConstraint("staff_id", "role", "community"),)

    id: uuid.UUID = Field(primary_key=True)
    staff_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("identity_staff.id"), nullable=False, index=True)
    )
    role: str = Field(sa_column=Column(String(32), nullable=False))
    community: str = Field(sa_column=Column(String(64), nullable=False))
    granted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Activity(SQLModel, table=True):
    """The resident's digital footprint (数字足迹): what was done in their name, through which
    channel and device. They read and export it; never personal data in `detail`."""

    __tablename__ = "identity_activity"
    __table_args__ = (Index("ix_identity_activity_resident", "resident_id", "id"),)

    id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(nullable=False)
    channel: str = Field(sa_column=Column(String(16), nullable=False))  # app, kiosk, tv, hotline
    device: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    detail: dict[str, Any] = Field(sa_column=Column(JSONDoc, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
