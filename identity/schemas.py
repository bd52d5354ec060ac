"""What the identity service returns. Personal data leaves only masked."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from core.pagination import Page


class ResidentProfile(BaseModel):
    id: uuid.UUID
    phone: str  # masked: 138****5678
    name: str | None  # masked: 张*
    id_number: str | None  # masked: 3205**********123X
    assurance: str
    language: str
    has_password: bool
    real_name_verified_at: datetime | None
    created_at: datetime


class RealNameResult(BaseModel):
    profile: ResidentProfile
    # "service" when the verification service confirmed the pair; "format-only" in development.
    method: str


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 token response, plus the session it belongs to."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type, not a secret
    expires_in: int
    refresh_token: str
    scope: str
    session_id: uuid.UUID


class SessionOut(BaseModel):
    id: uuid.UUID
    client_id: str
    channel: str
    device_name: str | None
    assurance: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime


class ConsentOut(BaseModel):
    """What a resident allowed a partner to receive (identity.consents)."""

    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: datetime


class DeviceAuthorization(BaseModel):
    """RFC 8628 §3.2 device authorization response, for the TV box."""

    device_code: str
    user_code: str  # shown as BCDF-GHJK
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceRequest(BaseModel):
    """A TV box's pending request as the resident's app shows it before approving."""

    user_code: str
    client_id: str
    client_name: str
    scope: list[str]
    status: str  # pending, approved or denied
    expires_at: datetime
    expires_in: int


class SessionPage(Page[SessionOut]):
    """Devices signed in, most recently used first."""


class ConsentPage(Page[ConsentOut]):
    """Partners the resident allowed, most recent first."""
