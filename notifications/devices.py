"""Residents' devices: the push tokens the app registers after sign-in.

A token belongs to whoever registered it last: a phone that changed hands, or another person
signing in on it, takes the token away from the previous resident, who must never get the new
one's notices. The move gives the row a new id, so deliveries queued for the old owner's device
find no device and are dropped rather than sent to the new owner. Tokens are personal data: they
are never logged and leave the service only masked."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import upsert
from core.ids import new_id
from notifications.errors import DeviceNotFound, InvalidPushToken
from notifications.models import Device
from notifications.schemas import (
    MAX_DEVICES,
    MAX_TOKEN_LENGTH,
    PLATFORMS,
    TOKEN_PATTERN,
    DeviceOut,
)

device_t = Device.__table__  # type: ignore[attr-defined]
_TOKEN = re.compile(TOKEN_PATTERN)


async def register(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    session_id: uuid.UUID | None,
    token: str,
    platform: str,
) -> DeviceOut:
    """Register (or refresh) a push token for the resident; `new` says whether it was added.

    Safe to race: two registrations of one token meet in one ON CONFLICT statement."""
    _check(token, platform)
    now = clock.now()
    fresh_id = new_id()
    statement = upsert(session, device_t).values(
        id=fresh_id,
        resident_id=resident_id,
        session_id=session_id,
        token=token,
        token_hash=token_hash(token),
        platform=platform,
        created_at=now,
        last_seen_at=now,
    )
    same_owner = device_t.c.resident_id == statement.excluded.resident_id
    statement = statement.on_conflict_do_update(
        index_elements=[device_t.c.token_hash],
        set_={
            # Another resident's token becomes a new device of this one (see the module doc).
            "id": case((same_owner, device_t.c.id), else_=statement.excluded.id),
            "created_at": case(
                (same_owner, device_t.c.created_at), else_=statement.excluded.created_at
            ),
            "resident_id": statement.excluded.resident_id,
            "session_id": statement.excluded.session_id,
            "platform": statement.excluded.platform,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    ).returning(*device_t.c)
    row = (await session.execute(statement)).one()
    await _keep_most_recent(session, resident_id=resident_id, keep=row.id)
    return _out(row, new=row.id == fresh_id)


async def remove(session: AsyncSession, *, resident_id: uuid.UUID, device_id: uuid.UUID) -> None:
    """Forget one of the resident's push tokens; another resident's is "not found"."""
    result = await session.execute(
        delete(device_t)
        .where(device_t.c.id == device_id, device_t.c.resident_id == resident_id)
        .returning(device_t.c.id)
    )
    if result.first() is None:
        raise DeviceNotFound("No such push token.")


async def list_devices(session: AsyncSession, *, resident_id: uuid.UUID) -> list[DeviceOut]:
    """The resident's registered devices, most recently seen first, tokens masked."""
    rows = await session.execute(
        select(device_t)
        .where(device_t.c.resident_id == resident_id)
        .order_by(device_t.c.last_seen_at.desc(), device_t.c.id.desc())
    )
    return [_out(row) for row in rows]


async def forget_sessions(session: AsyncSession, session_ids: Sequence[uuid.UUID]) -> int:
    """Remove the tokens registered by these (ended) sign-in sessions; how many."""
    if not session_ids:
        return 0
    result = await session.execute(
        delete(device_t)
        .where(device_t.c.session_id.in_(list(session_ids)))
        .returning(device_t.c.id)
    )
    return len(result.all())


async def tokens_for(
    session: AsyncSession, resident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Device]]:
    """Every device of these residents (the worker's fan-out); residents without any are absent."""
    if not resident_ids:
        return {}
    rows = await session.execute(
        select(Device)
        .where(device_t.c.resident_id.in_(list(resident_ids)))
        .order_by(device_t.c.resident_id, device_t.c.id)
    )
    found: dict[uuid.UUID, list[Device]] = {}
    for device in rows.scalars():
        found.setdefault(device.resident_id, []).append(device)
    return found


async def drop(session: AsyncSession, device_ids: Sequence[uuid.UUID]) -> None:
    """Remove tokens the push service reported invalid (app uninstalled, token rotated)."""
    if device_ids:
        await session.execute(delete(device_t).where(device_t.c.id.in_(list(device_ids))))


def token_hash(token: str) -> str:
    """The unique key of a token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def mask_token(token: str) -> str:
    return token[:6] + "…"


def _check(token: str, platform: str) -> None:
    # The messages never quote the token: it is personal data.
    if not 1 <= len(token) <= MAX_TOKEN_LENGTH:
        raise InvalidPushToken(
            f"A push token has 1 to {MAX_TOKEN_LENGTH} characters.", field="token"
        )
    if not _TOKEN.fullmatch(token):
        raise InvalidPushToken(
            "A push token has only printable ASCII characters and no spaces.", field="token"
        )
    if platform not in PLATFORMS:
        raise InvalidPushToken(
            f"The platform is one of {', '.join(sorted(PLATFORMS))}.", field="platform"
        )


async def _keep_most_recent(
    session: AsyncSession, *, resident_id: uuid.UUID, keep: uuid.UUID
) -> None:
    """At most MAX_DEVICES per resident: the least recently seen beyond that are dropped, never
    the one just registered. (Two new devices registered in the same instant may leave one too
    many until the next registration.)"""
    ids = (
        await session.execute(
            select(device_t.c.id)
            .where(device_t.c.resident_id == resident_id, device_t.c.id != keep)
            .order_by(device_t.c.last_seen_at.desc(), device_t.c.id.desc())
        )
    ).scalars()
    surplus = list(ids)[MAX_DEVICES - 1 :]
    if surplus:
        await session.execute(delete(device_t).where(device_t.c.id.in_(surplus)))


def _out(row: Any, *, new: bool = False) -> DeviceOut:
    return DeviceOut(
        id=row.id,
        token=mask_token(row.token),
        platform=row.platform,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        new=new,
    )
