"""TV boxes pairing with a resident's account: the device authorization grant (RFC 8628).

The box calls `/oauth2/device_authorization` and polls `/oauth2/token` (the grant below is
registered in api.oauth.GRANTS); the resident reads and answers the code in the app under
`/v1/me/device-codes`. A paired box is a session of channel `tv`, listed and ended with the
resident's other sessions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import segno
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, StrictBool
from sqlalchemy.ext.asyncio import AsyncSession

from api.authorize_pages import device_page
from api.deps import Session, caller_bucket
from api.principal import CurrentResident, OptionalResidentKey, Principal
from api.routing import contract_router
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from identity import device_flow
from identity.errors import (
    InvalidClient,
    InvalidDeviceScope,
    InvalidRequest,
    InvalidUserCode,
    UserCodeAlreadyDecided,
    UserCodeNotFound,
)
from identity.schemas import DeviceAuthorization, DeviceRequest
from mobile_contract.problems import raises

# No prefix: the box's endpoints sit under /oauth2, the app's under /v1/me.
router = contract_router()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Guessing a live code among 20^8 at 10 tries per 5 minutes is hopeless; a resident typing
# carefully never gets near it.
GUESSES_PER_RESIDENT, GUESSES_PER_IP, GUESS_WINDOW = 10, 30, 300


class Decision(BaseModel):
    """The resident's answer: `true` pairs the box with this account, `false` refuses it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"approve": True}]})

    approve: StrictBool


@router.post(
    "/oauth2/device_authorization",
    tags=["tv"],
    summary="Start pairing a TV box (device authorization)",
    responses={
        200: {
            "model": DeviceAuthorization,
            "description": "RFC 8628 §3.2; sent with `Cache-Control: no-store`.",
        }
    },
)
@raises(InvalidClient, InvalidDeviceScope, RateLimited)
async def device_authorization(
    request: Request,
    session: Session,
    client_id: Annotated[
        str,
        Form(
            min_length=1,
            max_length=100,
            description="`wujiang-tv`, or a registered public client.",
            examples=["wujiang-tv"],
        ),
    ],
    scope: Annotated[
        str | None,
        Form(
            max_length=1000,
            description="Space-separated, among the client's; all of them when left out.",
            examples=["points:read"],
        ),
    ] = None,
) -> JSONResponse:
    """RFC 8628 §3.1: a device code for the box to poll `/oauth2/token` with, and a user code
    to show with a QR code of `verification_uri_complete`. The resident enters (or scans) the
    code in the app; poll every `interval` seconds until tokens come or the answer is final.
    `client_id` is `wujiang-tv` or a registered public client; `scope` defaults to the
    client's (`points:read` for TV boxes)."""
    redis = get_redis()
    await hit(
        redis,
        bucket=f"device-authorization:ip:{caller_bucket(request)}",
        limit=30,
        window_seconds=600,
    )
    started = await device_flow.request_authorization(
        session, redis, client_id=client_id, scope=scope
    )
    return JSONResponse(started.model_dump(), headers=NO_STORE)


async def device_code_grant(
    session: AsyncSession, request: Request, form: Mapping[str, str]
) -> dict[str, Any]:
    """RFC 8628 §3.4-3.5: the box polls with its device code; tokens once the resident approves."""
    device_code, client_id = form.get("device_code"), form.get("client_id")
    if not device_code or not client_id:
        raise InvalidRequest("device_code and client_id are required.")
    issued = await device_flow.exchange(
        session, get_redis(), device_code=device_code, client_id=client_id
    )
    return issued.model_dump(mode="json")


@router.get(
    "/v1/me/device-codes/{user_code}", tags=["app"], summary="Preview a TV box's pairing request"
)
@raises(UserCodeNotFound, UserCodeAlreadyDecided, InvalidUserCode, RateLimited)
async def preview_device_request(
    user_code: str, request: Request, me: CurrentResident
) -> DeviceRequest:
    """What the code on the TV screen asks for: which client, which scope, until when. Show it
    and ask the resident to approve. The code may be typed in any case, with or without `-` or
    spaces. Each look-up counts towards a limit of 10 codes per resident every 5 minutes."""
    await _count_guess(request, me)
    return await device_flow.lookup(get_redis(), user_code=user_code)


@router.post(
    "/v1/me/device-codes/{user_code}", tags=["app"], summary="Approve or deny a TV box's pairing"
)
@raises(UserCodeNotFound, UserCodeAlreadyDecided, InvalidUserCode, RateLimited)
async def decide_device_request(
    user_code: str,
    body: Decision,
    request: Request,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> DeviceRequest:
    """Approve (pair the TV box with this account) or deny; a code is decided once. Once
    approved, the box's next poll gets its tokens and it appears among the resident's sessions
    (channel `tv`), where it can be signed out."""
    await _count_guess(request, me)
    return await device_flow.decide(
        get_redis(), user_code=user_code, resident_id=me.resident_id, approve=body.approve
    )


async def _count_guess(request: Request, me: Principal) -> None:
    redis = get_redis()
    await hit(
        redis,
        bucket=f"device-code:resident:{me.subject}",
        limit=GUESSES_PER_RESIDENT,
        window_seconds=GUESS_WINDOW,
    )
    await hit(
        redis,
        bucket=f"device-code:ip:{caller_bucket(request)}",
        limit=GUESSES_PER_IP,
        window_seconds=GUESS_WINDOW,
    )


@router.get("/device", response_class=HTMLResponse, include_in_schema=False)
async def device_verification_page(user_code: str | None = None) -> HTMLResponse:
    """The RFC 8628 verification URI: residents pair TV boxes in the app; this page (reached by
    typing the URI or scanning the TV's QR code in a browser) hands over to the app."""
    shown = None
    if user_code is not None and len(user_code) <= 32:
        try:
            shown = device_flow.display_user_code(device_flow.normalize_user_code(user_code))
        except InvalidUserCode:  # not one of ours: show the page without it
            shown = None
    link = "wujiang://device" + (f"?user_code={shown}" if shown else "")
    svg = segno.make(link, error="m").svg_inline(scale=5, dark="#1f2933")
    return HTMLResponse(device_page(shown, svg), headers={"Cache-Control": "no-store"})
