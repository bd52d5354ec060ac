"""Reading the digital footprint (数字足迹): the resident's own trail, a keyset page at a time
for the app, or the whole of it in batches for an export. `identity.activity.record` writes it.

Pages are keyset pages over the row ids, which are time-ordered (UUIDv7): newest first, and a
line recorded while the resident pages neither repeats nor hides another."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import cursors
from core.pagination import MAX_LIMIT, Page, split_page
from identity.models import Activity, AuthSession

EXPORT_BATCH = 1000

_activity_t = Activity.__table__  # type: ignore[attr-defined]
_session_t = AuthSession.__table__  # type: ignore[attr-defined]
_CURSOR_PREFIX = "a"


class ActivityItem(BaseModel):
    """One line of the trail: what was done, when, through which channel and device."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "at": "2025-03-20T06:41:09.218000Z",
                    "channel": "kiosk",
                    "device": "盛泽镇便民服务中心 1号机",
                    "action": "points.balance",
                    "detail": {"kiosk_id": "0193a9c1-4d2e-7f30-8a41-b52c63d74e85"},
                }
            ]
        }
    )

    at: datetime
    channel: str = Field(description="`app`, `kiosk`, `tv` or `hotline`.")
    device: str | None = Field(description="A kiosk's name, a TV box's or phone's device name.")
    action: str = Field(description="Dotted, e.g. `points.balance`, `card.report_lost`.")
    detail: dict[str, Any] = Field(description="Ids and amounts only, never personal data.")


class ActivityExport(BaseModel):
    """The whole trail, as `GET /v1/me/activity/export` streams it (a JSON download)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "exported_at": "2025-03-20T07:02:33.514000+00:00",
                    "activity": [
                        {
                            "at": "2025-03-18T12:15:40.077000Z",
                            "channel": "tv",
                            "device": "TV box",
                            "action": "tv.home",
                            "detail": {"session_id": "0193b2d4-8e1f-7a20-b931-c4d5e6f70819"},
                        },
                        {
                            "at": "2025-03-20T06:41:09.218000Z",
                            "channel": "kiosk",
                            "device": "盛泽镇便民服务中心 1号机",
                            "action": "points.balance",
                            "detail": {"kiosk_id": "0193a9c1-4d2e-7f30-8a41-b52c63d74e85"},
                        },
                    ],
                }
            ]
        }
    )

    exported_at: datetime
    activity: list[ActivityItem] = Field(description="Oldest first.")


class ActivityPage(Page[ActivityItem]):
    """The trail, newest first."""


async def page(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    cursor: str | None = None,
    limit: int = 20,
    channel: str | None = None,
) -> ActivityPage:
    """One page of the resident's trail, newest first, optionally of one channel only;
    `next_cursor` continues it. InvalidCursor for a cursor this list did not issue."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(_activity_t).where(_activity_t.c.resident_id == resident_id)
    if channel is not None:
        query = query.where(_activity_t.c.channel == channel)
    if cursor:
        query = query.where(_activity_t.c.id < decode_cursor(cursor))
    rows = (await session.execute(query.order_by(_activity_t.c.id.desc()).limit(limit + 1))).all()
    shown, next_cursor = split_page(rows, limit, lambda row: encode_cursor(row.id))
    return ActivityPage(items=[_out(row) for row in shown], next_cursor=next_cursor)


async def export_batches(
    session: AsyncSession, *, resident_id: uuid.UUID, batch: int = EXPORT_BATCH
) -> AsyncIterator[list[ActivityItem]]:
    """The resident's whole trail, oldest first, in keyset batches of `batch` rows: however long
    the trail, no more than one batch is held in memory at a time."""
    after: uuid.UUID | None = None
    while True:
        query = select(_activity_t).where(_activity_t.c.resident_id == resident_id)
        if after is not None:
            query = query.where(_activity_t.c.id > after)
        rows = (await session.execute(query.order_by(_activity_t.c.id).limit(batch))).all()
        if not rows:
            return
        yield [_out(row) for row in rows]
        if len(rows) < batch:
            return
        after = rows[-1].id


async def device_label(session: AsyncSession, *, session_id: uuid.UUID) -> str | None:
    """How requests made in a sign-in session are labelled in the trail: the session's device
    name (a TV box's, a phone's), or None if it has none."""
    name = await session.scalar(
        select(_session_t.c.device_name).where(_session_t.c.id == session_id)
    )
    return str(name) if name else None


def encode_cursor(activity_id: uuid.UUID) -> str:
    return cursors.encode_id(_CURSOR_PREFIX, activity_id)


def decode_cursor(cursor: str) -> uuid.UUID:
    """The line a cursor continues after; InvalidCursor for anything this list did not issue."""
    return cursors.decode_id(_CURSOR_PREFIX, cursor)


def _out(row: Any) -> ActivityItem:
    return ActivityItem(
        at=row.at,
        channel=row.channel,
        device=row.device,
        action=row.action,
        detail=dict(row.detail or {}),
    )
