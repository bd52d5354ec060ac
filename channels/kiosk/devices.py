"""The kiosk registry: add, rotate, revoke and list kiosks, and authenticate their requests.

A kiosk proves itself on every request with `Authorization: Kiosk <kiosk_id>:<secret>`. The
secret is 32 random bytes (base64url), shown once when it is made; only its keyed hash is kept
(HMAC-SHA256 under the blind-index key, so a copy of the table alone cannot even confirm a
guess). Rotating keeps the previous secret valid for `ROTATION_GRACE`, so the device can pick
up the new one without a gap; rotating again inside that window drops the oldest at once.

Every request reads the kiosk's row: nothing about a kiosk is cached, so a revocation refuses
the very next request. Rotating the blind-index key changes every hash, so kiosks then need new
secrets (`wujiang kiosks rotate`)."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.kiosk.errors import KioskNotFound, KioskRevoked, KioskUnauthenticated
from channels.kiosk.models import Kiosk
from core import clock
from core.ids import new_id
from core.settings import get_keyring

ROTATION_GRACE = timedelta(minutes=10)
LAST_SEEN_EVERY = timedelta(minutes=1)
SECRET_BYTES = 32
SCHEME = "Kiosk"
MAX_CREDENTIALS_LENGTH = 200
_HASH_CONTEXT = "kiosk.secret"

_kiosk_t: Any = Kiosk.__table__  # type: ignore[attr-defined]
log = structlog.get_logger(__name__)


class KioskOut(BaseModel):
    """A kiosk as operators see it: never its secret or the secret's hash."""

    id: uuid.UUID
    name: str
    community: str
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    last_seen_at: datetime | None
    # Until when the secret before the last rotation is still accepted.
    previous_valid_until: datetime | None


class AuthenticatedKiosk(BaseModel):
    """The kiosk a request came from."""

    id: uuid.UUID
    name: str
    community: str


async def add(session: AsyncSession, *, name: str, community: str) -> tuple[KioskOut, str]:
    """Register a kiosk; returns it and its secret, which is not kept and never shown again."""
    secret, kiosk_id = _new_secret(), new_id()
    row = {
        "id": kiosk_id,
        "name": name.strip()[:100],
        "community": community.strip()[:64],
        "secret_hash": _hash(secret),
        "created_at": clock.now(),
    }
    if not row["name"] or not row["community"]:
        raise ValueError("a kiosk needs a name and a community")
    await session.execute(insert(_kiosk_t), [row])
    log.info("kiosk.added", kiosk_id=str(kiosk_id), community=row["community"])
    return await get(session, kiosk_id=kiosk_id), secret


async def rotate(session: AsyncSession, *, kiosk_id: uuid.UUID) -> tuple[KioskOut, str]:
    """A new secret for the kiosk; the current one stays valid for `ROTATION_GRACE`."""
    kiosk = await get(session, kiosk_id=kiosk_id)
    if kiosk.revoked_at is not None:
        raise KioskRevoked("A revoked kiosk cannot be given a new secret; add a new kiosk.")
    secret, now = _new_secret(), clock.now()
    current = (
        await session.execute(select(_kiosk_t.c.secret_hash).where(_kiosk_t.c.id == kiosk_id))
    ).scalar_one()
    await session.execute(
        update(_kiosk_t)
        .where(_kiosk_t.c.id == kiosk_id, _kiosk_t.c.revoked_at.is_(None))
        .values(
            secret_hash=_hash(secret),
            previous_secret_hash=current,
            previous_valid_until=now + ROTATION_GRACE,
            rotated_at=now,
        )
    )
    log.info("kiosk.rotated", kiosk_id=str(kiosk_id))
    return await get(session, kiosk_id=kiosk_id), secret


async def revoke(session: AsyncSession, *, kiosk_id: uuid.UUID) -> KioskOut:
    """Refuse the kiosk from its next request on. Revoking again changes nothing."""
    await get(session, kiosk_id=kiosk_id)
    await session.execute(
        update(_kiosk_t)
        .where(_kiosk_t.c.id == kiosk_id, _kiosk_t.c.revoked_at.is_(None))
        .values(revoked_at=clock.now(), previous_secret_hash=None, previous_valid_until=None)
    )
    log.info("kiosk.revoked", kiosk_id=str(kiosk_id))
    return await get(session, kiosk_id=kiosk_id)


async def get(session: AsyncSession, *, kiosk_id: uuid.UUID) -> KioskOut:
    row = await _row(session, kiosk_id)
    if row is None:
        raise KioskNotFound(f"No kiosk {kiosk_id}.")
    return _out(row)


async def list_kiosks(session: AsyncSession) -> list[KioskOut]:
    """Every kiosk, revoked ones included, oldest first."""
    rows = await session.execute(select(_kiosk_t).order_by(_kiosk_t.c.created_at, _kiosk_t.c.id))
    return [_out(row) for row in rows.mappings()]


def parse_kiosk_id(text: str) -> uuid.UUID:
    """A kiosk id as typed by an operator; KioskNotFound if it cannot be one."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise KioskNotFound("Not a kiosk id.") from None


async def authenticate(session: AsyncSession, authorization: str | None) -> AuthenticatedKiosk:
    """The kiosk behind an `Authorization: Kiosk <kiosk_id>:<secret>` header; one and the same
    KioskUnauthenticated for a missing or malformed header, an unknown kiosk, a wrong or
    expired secret and a revoked kiosk."""
    kiosk_id, secret = _parse(authorization)
    offered = _hash(secret)
    row = await _row(session, kiosk_id) if kiosk_id is not None else None
    if row is None or not _matches(row, offered) or row["revoked_at"] is not None:
        raise _refused()
    now = clock.now()
    if row["last_seen_at"] is None or row["last_seen_at"] <= now - LAST_SEEN_EVERY:
        await _touch(session, row["id"], now)
    return AuthenticatedKiosk(id=row["id"], name=row["name"], community=row["community"])


def _parse(authorization: str | None) -> tuple[uuid.UUID | None, str]:
    if not authorization or len(authorization) > MAX_CREDENTIALS_LENGTH:
        raise _refused()
    scheme, _, credentials = authorization.strip().partition(" ")
    raw_id, colon, secret = credentials.strip().partition(":")
    if scheme.lower() != SCHEME.lower() or not colon or not secret:
        raise _refused()
    try:
        return uuid.UUID(raw_id), secret
    except ValueError:
        return None, secret  # still hashed, so a malformed id takes as long as a wrong one


def _matches(row: Any, offered: str) -> bool:
    # Both compared every time, in constant time: which one matched is not observable.
    current = hmac.compare_digest(offered, row["secret_hash"])
    previous_hash, until = row["previous_secret_hash"], row["previous_valid_until"]
    previous = hmac.compare_digest(offered, previous_hash or "")
    return current or (previous and until is not None and clock.now() < until)


async def _touch(session: AsyncSession, kiosk_id: uuid.UUID, now: datetime) -> None:
    # Conditional: of many concurrent requests at most one writes per minute.
    await session.execute(
        update(_kiosk_t)
        .where(
            _kiosk_t.c.id == kiosk_id,
            or_(
                _kiosk_t.c.last_seen_at.is_(None),
                _kiosk_t.c.last_seen_at <= now - LAST_SEEN_EVERY,
            ),
        )
        .values(last_seen_at=now)
    )


async def _row(session: AsyncSession, kiosk_id: uuid.UUID) -> Any:
    result = await session.execute(select(_kiosk_t).where(_kiosk_t.c.id == kiosk_id))
    return result.mappings().one_or_none()


def _out(row: Any) -> KioskOut:
    return KioskOut.model_validate(dict(row))


def _new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def _hash(secret: str) -> str:
    return get_keyring().blind_index(secret, context=_HASH_CONTEXT)


def _refused() -> KioskUnauthenticated:
    return KioskUnauthenticated(
        "This needs a registered kiosk's credentials (Authorization: Kiosk <kiosk_id>:<secret>)."
    )
