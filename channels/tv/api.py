"""The TV box channel (数字电视): screens for a remote, and unpairing boxes from the app.

A box pairs through the device authorization grant (api.device, identity.device_flow) and then
holds access tokens of channel `tv` with the `points:read` scope. Every screen here needs such a
token: an app token is refused with 403 `wrong-channel`, so the TV screens stay the TV's.

- `GET /v1/tv/home`, `GET /v1/tv/more`
- `GET /v1/tv/points/history`, `GET /v1/tv/rewards`, `GET /v1/tv/inbox` (`?page=1..`, six a page)
- `POST /v1/tv/inbox/{id}/read`: a notice opened on the TV
- `GET /v1/me/tv-boxes`, `DELETE /v1/me/tv-boxes/{session_id}`: the resident, in the app

Each TV request is a line of the resident's digital footprint (identity.activity)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

import points
from api.deps import Session
from api.idempotency import idempotent
from api.pagination import PageRequest, Paging, page_of, paging
from api.principal import CurrentResident, Principal, current_principal
from api.rewards import reward_page
from api.routing import contract_router
from channels.tv import screens
from core.errors import DomainError, members
from core.pagination import Page, time_key
from core.redis import get_redis
from core.settings import get_settings
from identity import activity, activity_reads, residents, sessions
from identity.errors import InsufficientScope, SessionNotFound
from identity.schemas import SessionOut
from mobile_contract.problems import raises
from notifications import inbox
from notifications.errors import InboxItemNotFound

router = contract_router(prefix="/v1/tv", tags=["tv"])
pairing_router = contract_router(prefix="/v1/me/tv-boxes", tags=["app"])

TV_CHANNEL = "tv"
# What the device grant gives a TV box (identity.device_flow.TV_SCOPES); app tokens carry it too,
# hence the channel check as well.
TV_SCOPE = "points:read"


class WrongChannel(DomainError):
    """A token of another channel (the app's, say) on a channel's own endpoints."""

    type = "wrong-channel"
    title = "This endpoint is for another channel"
    status = 403
    example_extensions = members(channel="tv")

    def __init__(self, detail: str, *, channel: str) -> None:
        super().__init__(detail, channel=channel)


@raises(WrongChannel, InsufficientScope)
async def _tv_box(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.channel != TV_CHANNEL:
        raise WrongChannel("These screens are for TV boxes paired with the app.", channel="tv")
    if TV_SCOPE not in principal.scopes:
        raise InsufficientScope(f"This needs the {TV_SCOPE!r} scope.", scope=TV_SCOPE)
    return principal


TvBox = Annotated[Principal, Depends(_tv_box)]
OptionalTvKey = idempotent(_tv_box, required=False)
TvPaging = Annotated[PageRequest, Depends(paging(default_limit=screens.PAGE_SIZE))]


class TvBoxOut(BaseModel):
    """A TV box paired with the resident's account (a live session of channel `tv`). Its last
    use is when it last renewed its token, so within an access token's lifetime."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a1017e-0b00-7e57-8f68-5a6b7c8d9eaf",
                    "device_name": "TV box",
                    "paired_at": "2026-10-03T11:20:00.214000Z",
                    "last_used_at": "2026-12-07T13:40:00.552000Z",
                }
            ]
        }
    )

    id: uuid.UUID = Field(description="The box's session: unpair it with this id.")
    device_name: str | None
    paired_at: datetime
    last_used_at: datetime


class TvBoxPage(Page[TvBoxOut]):
    """Paired TV boxes, most recently used first."""


# --- the box's screens -------------------------------------------------------------------------


@router.get("/home", summary="Home screen")
async def tv_home(session: Session, tv: TvBox) -> screens.HomeScreen:
    """Masked name, points, what lapses within 30 days, the three newest notices, the tiles.
    Texts are Chinese unless the resident chose English in the app; times are local."""
    profile = await residents.profile(session, resident_id=tv.resident_id)
    summary = await points.points_summary(session, resident_id=tv.resident_id)
    newest = await inbox.page(
        session,
        resident_id=tv.resident_id,
        cursor=None,
        limit=screens.HOME_NOTICES,
        unread_only=False,
    )
    await _footprint(session, tv, "tv.home")
    return screens.home(profile, summary, newest.items, unread=newest.unread, zone=_zone())


@router.get("/more", summary="Account actions (QR codes to the app)")
async def tv_more(session: Session, tv: TvBox) -> screens.MoreScreen:
    """Notification settings, reporting the card lost, signing out elsewhere: done on the phone."""
    language = await _language(session, tv)
    await _footprint(session, tv, "tv.more")
    return screens.more(language)


@router.get("/points/history", summary="Points history, six a page")
async def tv_points_history(session: Session, tv: TvBox, page: TvPaging) -> screens.HistoryScreen:
    """Newest first, labelled in the resident's language, times local; `next_cursor` is the
    remote's "next page" (null on the last)."""
    language = await _language(session, tv)
    found = await points.points_history(
        session, resident_id=tv.resident_id, cursor=page.cursor, limit=page.limit
    )
    await _footprint(session, tv, "tv.points_history")
    return screens.history(
        found.items, next_cursor=found.next_cursor, language=language, zone=_zone()
    )


@router.get("/rewards", summary="Rewards, six a page, each with a QR code to redeem in the app")
async def tv_rewards(session: Session, tv: TvBox, page: TvPaging) -> screens.RewardsScreen:
    """What can be redeemed now; redeeming is done on the phone, through each reward's QR
    code."""
    language = await _language(session, tv)
    shown = reward_page(await points.list_rewards(session), page)
    await _footprint(session, tv, "tv.rewards")
    return screens.rewards(shown.items, next_cursor=shown.next_cursor, language=language)


@router.get("/inbox", summary="Notices, six a page")
async def tv_inbox(session: Session, tv: TvBox, page: TvPaging) -> screens.InboxScreen:
    """Titles only, newest first; `unread` counts every unread notice. Opening one (`POST
    /v1/tv/inbox/{item_id}/read`) shows its text and marks it read."""
    found = await inbox.page(
        session,
        resident_id=tv.resident_id,
        cursor=page.cursor,
        limit=page.limit,
        unread_only=False,
    )
    await _footprint(session, tv, "tv.inbox")
    return screens.inbox(
        found.items, next_cursor=found.next_cursor, unread=found.unread, zone=_zone()
    )


@router.post("/inbox/{item_id}/read", summary="Open a notice (marks it read)")
@raises(InboxItemNotFound)
async def tv_open_notice(
    item_id: uuid.UUID, session: Session, tv: TvBox, _key: Annotated[str | None, OptionalTvKey]
) -> screens.Notice:
    """Another resident's notice, or none, is 404."""
    item = await inbox.mark_read(session, resident_id=tv.resident_id, item_id=item_id)
    await _footprint(session, tv, "tv.inbox_read", notice_id=str(item_id))
    return screens.notice(item, _zone())


# --- the resident, in the app --------------------------------------------------------------------


@pairing_router.get("", summary="My paired TV boxes")
async def my_tv_boxes(session: Session, me: CurrentResident, page: Paging) -> TvBoxPage:
    """Live TV sessions, most recently used first."""
    boxes = [
        TvBoxOut(
            id=box.id,
            device_name=box.device_name,
            paired_at=box.created_at,
            last_used_at=box.last_used_at,
        )
        for box in await _tv_sessions(session, me)
    ]
    return page_of(
        TvBoxPage,
        boxes,
        key=lambda b: time_key(b.last_used_at, b.id),
        kind="b",
        page=page,
        descending=True,
    )


@pairing_router.delete(
    "/{session_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Unpair a TV box"
)
@raises(SessionNotFound)
async def unpair_tv_box(session_id: uuid.UUID, session: Session, me: CurrentResident) -> None:
    """Ends the box's session: its tokens are refused at once. Only the resident's own live TV
    boxes; any other id (another resident's, a phone's session, one already unpaired) is 404."""
    if all(box.id != session_id for box in await _tv_sessions(session, me)):
        raise SessionNotFound("No such TV box.")
    await sessions.revoke(
        session, get_redis(), session_id=session_id, subject=me.subject, reason="tv-unpaired"
    )
    await _footprint(session, me, "tv.unpaired", box=str(session_id))


# --- helpers -------------------------------------------------------------------------------------


async def _tv_sessions(session: AsyncSession, me: Principal) -> list[SessionOut]:
    live = await sessions.list_sessions(session, subject=me.subject)
    return [box for box in live if box.channel == TV_CHANNEL]


async def _footprint(
    session: AsyncSession, caller: Principal, action: str, **detail: str | int
) -> None:
    """A line of the resident's trail for this request, labelled with the session's device."""
    device = await activity_reads.device_label(session, session_id=caller.session_id)
    await activity.record(
        session,
        resident_id=caller.resident_id,
        channel=caller.channel,
        device=device or caller.channel,
        action=action,
        detail={"session_id": str(caller.session_id), **detail},
    )


async def _language(session: AsyncSession, tv: Principal) -> screens.Language:
    resident = await residents.get(session, resident_id=tv.resident_id)
    return screens.language_of(resident.language)


def _zone() -> ZoneInfo:
    # The programme's local time (Asia/Shanghai by default), as the points calendar counts it.
    return ZoneInfo(get_settings().points_timezone)
