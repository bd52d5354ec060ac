"""The signed-in resident's notifications: push tokens, the inbox, and preferences.

- `POST /v1/me/push-tokens`, `GET /v1/me/push-tokens`, `DELETE /v1/me/push-tokens/{id}`
- `GET /v1/me/inbox`, `GET /v1/me/inbox/unread-count`, `POST /v1/me/inbox/{id}/read`,
  `POST /v1/me/inbox/read-all`
- `GET /v1/me/notification-preferences`, `PATCH /v1/me/notification-preferences`"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Response, status

from api.deps import Session
from api.pagination import Paging, page_of
from api.params import Flag
from api.principal import CurrentResident, OptionalResidentKey
from api.routing import contract_router
from core.pagination import time_key
from mobile_contract.problems import raises
from notifications import devices, inbox, preferences
from notifications.errors import (
    DeviceNotFound,
    InboxItemNotFound,
    PreferenceLocked,
)
from notifications.schemas import (
    DeviceOut,
    DevicePage,
    InboxItemOut,
    InboxPage,
    MarkedRead,
    PreferencesIn,
    PreferencesOut,
    PushTokenIn,
    ReadAllIn,
    UnreadCount,
)

router = contract_router(prefix="/v1/me", tags=["app"])


# --- push tokens -------------------------------------------------------------------------------


@router.post(
    "/push-tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Register this device's push token",
    responses={200: {"model": DeviceOut, "description": "The token was already registered."}},
)
async def register_push_token(
    body: PushTokenIn,
    session: Session,
    me: CurrentResident,
    response: Response,
    _key: Annotated[str | None, OptionalResidentKey],
) -> DeviceOut:
    """Call after every sign-in and whenever the push service gives the app a new token.

    Idempotent by nature, so the Idempotency-Key is optional: the token itself is the key. 201
    when the token is new for this resident, 200 when it was already theirs (its last-seen time and
    session are refreshed). A token registered before by someone else (a phone that changed
    hands) moves to this resident, and the other stops getting notices on it. Ending this
    sign-in session (sign-out) removes the token."""
    device = await devices.register(
        session,
        resident_id=me.resident_id,
        session_id=me.session_id,
        token=body.token,
        platform=body.platform,
    )
    if not device.new:
        response.status_code = status.HTTP_200_OK
    return device


@router.get("/push-tokens", summary="My registered devices")
async def my_push_tokens(session: Session, me: CurrentResident, page: Paging) -> DevicePage:
    """Most recently seen first; tokens masked."""
    return page_of(
        DevicePage,
        await devices.list_devices(session, resident_id=me.resident_id),
        key=lambda d: time_key(d.last_seen_at, d.id),
        kind="d",
        page=page,
        descending=True,
    )


@router.delete(
    "/push-tokens/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop push notices to a device",
)
@raises(DeviceNotFound)
async def remove_push_token(device_id: uuid.UUID, session: Session, me: CurrentResident) -> None:
    """Only the resident's own devices; any other id is 404."""
    await devices.remove(session, resident_id=me.resident_id, device_id=device_id)


# --- inbox -------------------------------------------------------------------------------------


@router.get("/inbox", summary="My notices")
async def my_inbox(
    session: Session, me: CurrentResident, page: Paging, unread_only: Flag = False
) -> InboxPage:
    """Newest first."""
    return await inbox.page(
        session,
        resident_id=me.resident_id,
        cursor=page.cursor,
        limit=page.limit,
        unread_only=unread_only,
    )


@router.get("/inbox/unread-count", summary="How many notices are unread")
async def my_unread_count(session: Session, me: CurrentResident) -> UnreadCount:
    """The badge on the bell: cheap enough to ask on every app start and push received."""
    return UnreadCount(unread=await inbox.unread_count(session, resident_id=me.resident_id))


@router.post("/inbox/read-all", summary="Mark my notices read")
async def mark_all_read(
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
    body: Annotated[ReadAllIn | None, Body()] = None,
) -> MarkedRead:
    """Every unread notice, or with `up_to` only those up to that one (the newest the app
    showed), so a notice arriving meanwhile stays unread."""
    marked = await inbox.mark_all_read(
        session, resident_id=me.resident_id, up_to=body.up_to if body else None
    )
    return MarkedRead(marked=marked)


@router.post("/inbox/{item_id}/read", summary="Mark a notice read")
@raises(InboxItemNotFound)
async def mark_read(
    item_id: uuid.UUID,
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> InboxItemOut:
    """Marking it again changes nothing."""
    return await inbox.mark_read(session, resident_id=me.resident_id, item_id=item_id)


# --- preferences -------------------------------------------------------------------------------


@router.get("/notification-preferences", summary="My notification preferences")
async def my_preferences(session: Session, me: CurrentResident) -> PreferencesOut:
    """Every group with both channels (push, SMS), and the quiet hours; security notices are
    `locked`: they cannot be switched off."""
    return await preferences.get(session, resident_id=me.resident_id)


@router.patch("/notification-preferences", summary="Change my notification preferences")
@raises(PreferenceLocked)
async def change_my_preferences(
    body: PreferencesIn,
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> PreferencesOut:
    """Only what is given changes. Switching off a security channel is refused
    (`preference-locked`)."""
    return await preferences.update(session, resident_id=me.resident_id, change=body)
