"""Kiosk card sessions: what a resident gets by tapping their card and entering the PIN.

A session is a random token (`X-Kiosk-Session`) bound to one kiosk, resident and card. It lives
in Redis under `kiosk:session:<sha256 of the token>` (so a dump holds no usable token) as JSON::

    {"kiosk_id", "resident_id", "card_id", "started_at", "expires_at"}  # times: unix seconds

It lasts `IDLE` after its last use and never past `MAX_LIFE` after it started. The expiry is
kept in the value and checked against `core.clock` as well as the Redis TTL: the TTL collects
the key, the stored time decides (and lets tests move the clock)."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis

from channels.kiosk.errors import KioskSessionExpired
from core import clock

IDLE = timedelta(minutes=3)
MAX_LIFE = timedelta(minutes=10)
TOKEN_BYTES = 32
_PREFIX = "kiosk:session:"


class KioskSession(BaseModel):
    """Who is at the kiosk, with which card, and until when."""

    model_config = ConfigDict(frozen=True)

    kiosk_id: uuid.UUID
    resident_id: uuid.UUID
    card_id: uuid.UUID
    started_at: int
    expires_at: int

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)

    @property
    def ends_at_latest(self) -> datetime:
        return datetime.fromtimestamp(self.started_at, UTC) + MAX_LIFE


async def start(
    redis: Redis, *, kiosk_id: uuid.UUID, resident_id: uuid.UUID, card_id: uuid.UUID
) -> tuple[str, KioskSession]:
    """A new session and its token (returned here only)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = _seconds(clock.now())
    started = KioskSession(
        kiosk_id=kiosk_id,
        resident_id=resident_id,
        card_id=card_id,
        started_at=now,
        expires_at=now + int(IDLE.total_seconds()),
    )
    await redis.set(_key(token), started.model_dump_json(), ex=IDLE)
    return token, started


async def use(redis: Redis, *, token: str, kiosk_id: uuid.UUID) -> KioskSession:
    """The live session under `token` for this kiosk, its life extended by `IDLE` (up to
    `MAX_LIFE` in all); KioskSessionExpired for anything else, another kiosk's session included."""
    raw = await redis.get(_key(token)) if token else None
    current = _parse(raw)
    now = _seconds(clock.now())
    if current is None or current.kiosk_id != kiosk_id or now >= current.expires_at:
        raise _expired()
    ends = current.started_at + int(MAX_LIFE.total_seconds())
    extended = current.model_copy(update={"expires_at": min(now + int(IDLE.total_seconds()), ends)})
    remaining = max(1, extended.expires_at - now)
    # XX: a session ended by a concurrent request stays ended.
    if not await redis.set(_key(token), extended.model_dump_json(), ex=remaining, xx=True):
        raise _expired()
    return extended


async def end(redis: Redis, *, token: str) -> None:
    """End the session now; ending it again changes nothing."""
    await redis.delete(_key(token))


def _parse(raw: str | bytes | None) -> KioskSession | None:
    if raw is None:
        return None
    try:
        return KioskSession.model_validate_json(raw)
    except ValidationError:
        return None


def _key(token: str) -> str:
    return _PREFIX + hashlib.sha256(token.encode()).hexdigest()


def _seconds(at: datetime) -> int:
    return math.floor(at.timestamp())


def _expired() -> KioskSessionExpired:
    return KioskSessionExpired(
        "The kiosk session has ended or expired: tap the card and enter the PIN again."
    )
