"""Residents' inboxes: every notice, kept to read in the app, on the TV and at the kiosk.

Pages are keyset pages over the item ids, which are time-ordered (UUIDv7): newest first, and an
item arriving while the resident pages neither repeats nor hides another."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, cursors
from core.db import upsert
from core.ids import new_id
from core.pagination import MAX_LIMIT, split_page
from notifications.errors import InboxItemNotFound
from notifications.models import InboxItem
from notifications.schemas import InboxItemOut, InboxPage

inbox_t = InboxItem.__table__  # type: ignore[attr-defined]


async def page(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    cursor: str | None,
    limit: int,
    unread_only: bool,
) -> InboxPage:
    """One page of the resident's inbox, newest first; `next_cursor` continues it."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(inbox_t).where(inbox_t.c.resident_id == resident_id)
    if unread_only:
        query = query.where(inbox_t.c.read_at.is_(None))
    if cursor:
        query = query.where(inbox_t.c.id < decode_cursor(cursor))
    rows = (await session.execute(query.order_by(inbox_t.c.id.desc()).limit(limit + 1))).all()
    shown, next_cursor = split_page(rows, limit, lambda row: encode_cursor(row.id))
    return InboxPage(
        items=[_out(row) for row in shown],
        next_cursor=next_cursor,
        unread=await unread_count(session, resident_id=resident_id),
    )


async def unread_count(session: AsyncSession, *, resident_id: uuid.UUID) -> int:
    """How many of the resident's notices are unread (the badge on the bell)."""
    count = await session.scalar(
        select(func.count())
        .select_from(inbox_t)
        .where(inbox_t.c.resident_id == resident_id, inbox_t.c.read_at.is_(None))
    )
    return int(count or 0)


async def mark_read(
    session: AsyncSession, *, resident_id: uuid.UUID, item_id: uuid.UUID
) -> InboxItemOut:
    """Mark one notice read; again changes nothing. Another resident's is "not found"."""
    mine = _mine(resident_id, item_id)
    await session.execute(
        update(inbox_t).where(mine, inbox_t.c.read_at.is_(None)).values(read_at=clock.now())
    )
    row = (await session.execute(select(inbox_t).where(mine))).first()
    if row is None:
        raise InboxItemNotFound("No such notice.")
    return _out(row)


async def mark_all_read(
    session: AsyncSession, *, resident_id: uuid.UUID, up_to: uuid.UUID | None
) -> int:
    """Mark every unread notice read, or only those up to `up_to` (the newest the app showed),
    so one arriving meanwhile stays unread; how many were marked."""
    statement = update(inbox_t).where(
        inbox_t.c.resident_id == resident_id, inbox_t.c.read_at.is_(None)
    )
    if up_to is not None:
        statement = statement.where(inbox_t.c.id <= up_to)
    result = await session.execute(statement.values(read_at=clock.now()).returning(inbox_t.c.id))
    return len(result.all())


async def add(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    message_id: uuid.UUID,
    topic: str,
    title: str,
    body: str,
    data: dict[str, str],
) -> None:
    """Put a notice in the resident's inbox (the worker); once per outbox message."""
    await add_many(
        session,
        [
            {
                "id": new_id(),
                "resident_id": resident_id,
                "message_id": message_id,
                "topic": topic,
                "title": title,
                "body": body,
                "data": data,
                "created_at": clock.now(),
                "read_at": None,
            }
        ],
    )


async def add_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Many inbox rows (every column given) in one statement; a message already in an inbox is
    skipped, so a fan-out that runs again adds nothing twice."""
    if rows:
        await session.execute(upsert(session, inbox_t).on_conflict_do_nothing(), list(rows))


def encode_cursor(item_id: uuid.UUID) -> str:
    return cursors.encode_id("i", item_id)


def decode_cursor(cursor: str) -> uuid.UUID:
    """The item a cursor continues after; InvalidCursor for anything this list did not issue."""
    return cursors.decode_id("i", cursor)


def _mine(resident_id: uuid.UUID, item_id: uuid.UUID) -> ColumnElement[bool]:
    return and_(inbox_t.c.id == item_id, inbox_t.c.resident_id == resident_id)


def _out(row: Any) -> InboxItemOut:
    return InboxItemOut(
        id=row.id,
        topic=row.topic,
        title=row.title,
        body=row.body,
        data=row.data,
        created_at=row.created_at,
        read_at=row.read_at,
    )
