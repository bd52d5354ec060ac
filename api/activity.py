"""The resident's digital footprint (数字足迹): what was done in their name, through which channel
and device. Their own trail only; staff have no endpoint here.

- `GET /v1/me/activity`: newest first, keyset pages (`cursor`, `limit`, `channel`)
- `GET /v1/me/activity/export`: the whole trail as a JSON download, streamed"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Session, get_session
from api.pagination import Paging
from api.principal import CurrentResident
from api.routing import contract_router
from core import clock
from core.settings import get_settings
from identity import activity, activity_reads
from identity.activity_reads import ActivityExport, ActivityPage

router = contract_router(prefix="/v1/me/activity", tags=["app"])

# The export reads while the response streams, after the request's own transaction has committed
# (`Session` commits before the response is sent): this session stays open until the last byte.
StreamSession = Annotated[AsyncSession, Depends(get_session)]


@router.get("", summary="My digital footprint")
async def my_activity(
    session: Session,
    me: CurrentResident,
    page: Paging,
    channel: Annotated[
        str | None,
        Query(pattern=r"^[a-z]{1,16}$", description="Only this channel: app, kiosk, tv, hotline."),
    ] = None,
) -> ActivityPage:
    """What was done in the resident's name, through which channel and device; newest first.
    Pass `next_cursor` back as `cursor` for the next page."""
    return await activity_reads.page(
        session, resident_id=me.resident_id, cursor=page.cursor, limit=page.limit, channel=channel
    )


@router.get(
    "/export",
    summary="Download my digital footprint",
    response_class=StreamingResponse,
    responses={
        200: {
            "model": ActivityExport,
            "description": "A JSON download (`Content-Disposition: attachment; filename="
            '"wujiang-activity-<date>.json"`), streamed.',
            "content": {"application/json": {}},
        }
    },
)
async def export_my_activity(
    # Before the principal: this session's (test) savepoint must enclose the request's own.
    reader: StreamSession,
    session: Session,
    me: CurrentResident,
) -> StreamingResponse:
    """The whole trail, oldest first, as `{"exported_at": …, "activity": [...]}`; streamed in
    batches, so a long trail is never held in memory at once. The export itself is recorded in
    the trail (`activity.export`)."""
    now = clock.now()
    device = await activity_reads.device_label(session, session_id=me.session_id)
    await activity.record(
        session,
        resident_id=me.resident_id,
        channel=me.channel,
        device=device or me.channel,
        action="activity.export",
        detail={"session_id": str(me.session_id)},
    )
    day = now.astimezone(ZoneInfo(get_settings().points_timezone)).date()
    filename = f"wujiang-activity-{day.isoformat()}.json"
    return StreamingResponse(
        _export_body(reader, me.resident_id, exported_at=now.isoformat()),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def _export_body(
    reader: AsyncSession, resident_id: uuid.UUID, *, exported_at: str
) -> AsyncIterator[str]:
    yield '{"exported_at": ' + json.dumps(exported_at) + ', "activity": ['
    separator = ""
    async for batch in activity_reads.export_batches(reader, resident_id=resident_id):
        yield separator + ",".join(item.model_dump_json() for item in batch)
        separator = ","
    yield "]}"
