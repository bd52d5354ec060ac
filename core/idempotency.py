"""Remembered answers to writes sent with an `Idempotency-Key`, so a retry is answered exactly
as the first request was and nothing is done twice.

A key is claimed in the transaction of the write it belongs to, and the answer is remembered in
that same transaction: either both commit or neither does, so a key is never remembered without
its answer, nor an answer lost after its change committed. A second request with the key while
the first is still running waits for it (PostgreSQL: the unique index; SQLite: its single
writer), then finds the answer. Answers are kept `RETENTION`, encrypted (they can carry voucher
codes and masked personal data), and purged by the worker."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from core import clock
from core.crypto import KeyRing
from core.db import configure_metadata, upsert
from core.db_types import UTCDateTime
from core.errors import DomainError
from core.ids import new_id

configure_metadata(SQLModel.metadata)

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"^[\x21-\x7e]+$"  # visible ASCII, as the draft standard's sf-string allows
BODY_CONTEXT = "idempotency_record.body"


class IdempotencyRecord(SQLModel, table=True):
    """A claimed key and, once its write committed, the answer it was given."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_record_expires_at", "expires_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    # Whose key it is: keys of different callers never meet (e.g. `staff:<id>`).
    scope: str = Field(sa_column=Column(String(160), nullable=False))
    key: str = Field(sa_column=Column(String(MAX_KEY_LENGTH), nullable=False))
    # sha256 of the request (method, path, query, body): the same key with another request is
    # refused rather than answered with the first request's answer.
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    media_type: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    body_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


_record_t = IdempotencyRecord.__table__  # type: ignore[attr-defined]


class IdempotencyKeyReused(DomainError):
    """This key was sent before with a different request: use a new key for a new change."""

    type = "idempotency-key-reused"
    title = "The idempotency key was used for another request"
    status = 422


@dataclass(frozen=True)
class Remembered:
    """The answer given to the first request with a key."""

    status_code: int
    media_type: str | None
    body: bytes


async def claim(
    session: AsyncSession, keyring: KeyRing, *, scope: str, key: str, fingerprint: str
) -> uuid.UUID | Remembered:
    """Claim `key` for this request (its record id), or the answer a first request with the
    same key and fingerprint was given; IdempotencyKeyReused for another request's key."""
    now = clock.now()
    inserted = await session.scalar(
        upsert(session, _record_t)
        .values(
            id=new_id(),
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
            expires_at=now + RETENTION,
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(_record_t.c.id)
    )
    if inserted is not None:
        return uuid.UUID(str(inserted))
    row = (
        await session.execute(
            select(_record_t).where(_record_t.c.scope == scope, _record_t.c.key == key)
        )
    ).one()
    if row.expires_at <= now or row.status_code is None:
        return await _reclaim(session, row.id, fingerprint=fingerprint, now=now) or await claim(
            session, keyring, scope=scope, key=key, fingerprint=fingerprint
        )
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request; send a new key."
        )
    body = keyring.decrypt(row.body_token, context=BODY_CONTEXT) if row.body_token else ""
    return Remembered(row.status_code, row.media_type, body.encode())


async def _reclaim(
    session: AsyncSession, record_id: uuid.UUID, *, fingerprint: str, now: datetime
) -> uuid.UUID | None:
    """Take over a lapsed (or answerless) record, unless another request just did."""
    taken = await session.execute(
        sql_update(_record_t)
        .where(
            _record_t.c.id == record_id,
            (_record_t.c.expires_at <= now) | _record_t.c.status_code.is_(None),
        )
        .values(
            fingerprint=fingerprint,
            status_code=None,
            media_type=None,
            body_token=None,
            created_at=now,
            expires_at=now + RETENTION,
        )
    )
    return record_id if getattr(taken, "rowcount", 0) == 1 else None


async def remember(
    session: AsyncSession,
    keyring: KeyRing,
    record_id: uuid.UUID,
    *,
    status_code: int,
    media_type: str | None,
    body: bytes,
) -> None:
    """Store the answer given under the claimed key, in the write's own transaction."""
    token = keyring.encrypt(body.decode("utf-8"), context=BODY_CONTEXT) if body else None
    await session.execute(
        sql_update(_record_t)
        .where(_record_t.c.id == record_id)
        .values(status_code=status_code, media_type=media_type, body_token=token)
    )


async def forget(session: AsyncSession, record_id: uuid.UUID) -> None:
    """Release a claimed key whose request was refused, so a corrected retry may use it."""
    await session.execute(delete(_record_t).where(_record_t.c.id == record_id))


async def purge_expired(session: AsyncSession, *, limit: int) -> int:
    """Delete up to `limit` records past their retention; how many went."""
    expired = (
        select(_record_t.c.id)
        .where(_record_t.c.expires_at <= clock.now())
        .order_by(_record_t.c.expires_at)
        .limit(limit)
    )
    ids = list((await session.scalars(expired)).all())
    if ids:
        await session.execute(delete(_record_t).where(_record_t.c.id.in_(ids)))
    return len(ids)
