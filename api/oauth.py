"""OAuth 2.0 token endpoint (RFC 6749 §3.2). Each grant type is a handler registered in
GRANTS; refusals are rendered with the RFC's own body (`{"error": …}`) by api/errors.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Session
from api.device import DEVICE_CODE_GRANT, device_code_grant
from api.feeds import client_credentials_grant
from api.oidc import authorization_code_grant
from api.routing import contract_router
from core.redis import get_redis
from identity import client_credentials, clients, sessions
from identity.errors import (
    AuthorizationPending,
    DeviceAccessDenied,
    DeviceCodeExpired,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    SlowDown,
    UnsupportedGrantType,
)
from mobile_contract.problems import raises

router = contract_router(prefix="/oauth2", tags=["partner", "app", "tv"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FIELD = 4096

# A grant: the request (for client authentication headers) and its form fields in, the token
# response body out.
Grant = Callable[[AsyncSession, Request, Mapping[str, str]], Awaitable[dict[str, Any]]]


async def refresh_token_grant(
    session: AsyncSession, request: Request, form: Mapping[str, str]
) -> dict[str, Any]:
    """RFC 6749 §6: a refresh token for new tokens (first-party clients)."""
    refresh_token, client_id = form.get("refresh_token"), form.get("client_id")
    if not refresh_token:
        raise InvalidRequest("refresh_token is required.")
    credentials = request.headers.get("authorization") or "client_assertion" in form
    if credentials or (client_id and client_id not in clients.FIRST_PARTY_CLIENTS):
        # A registered partner proves who it is at every use of its credentials (§6); with
        # Basic authentication the form need not repeat client_id.
        client = await clients.authenticate(
            session, get_redis(), authorization=request.headers.get("authorization"), form=form
        )
        client_id = client.client_id
    if not client_id:
        raise InvalidRequest("client_id is required.")
    issued = await sessions.refresh(
        session, get_redis(), refresh_token=refresh_token, client_id=client_id
    )
    return issued.model_dump(mode="json")


GRANTS: dict[str, Grant] = {
    DEVICE_CODE_GRANT: device_code_grant,
    "authorization_code": authorization_code_grant,
    "refresh_token": refresh_token_grant,
    "client_credentials": client_credentials_grant,
}


@router.post(
    "/token",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {"grant_type": {"type": "string", "enum": list(GRANTS)}},
                        "additionalProperties": {"type": "string"},
                    }
                }
            },
            "required": True,
        }
    },
)
@raises(
    InvalidRequest,
    UnsupportedGrantType,
    InvalidGrant,
    InvalidClient,
    client_credentials.InvalidScope,
    client_credentials.UnauthorizedClient,
    AuthorizationPending,
    SlowDown,
    DeviceAccessDenied,
    DeviceCodeExpired,
)
async def token(request: Request, session: Session) -> JSONResponse:
    """Token endpoint: dispatches on `grant_type`."""
    form = await _form(request)
    if "grant_type" not in form:
        raise InvalidRequest("grant_type is required.")
    grant = GRANTS.get(form["grant_type"])
    if grant is None:
        raise UnsupportedGrantType("This grant type is not supported here.")
    return JSONResponse(await grant(session, request, form), headers=NO_STORE)


async def _form(request: Request) -> dict[str, str]:
    """The form body as plain strings; repeated or oversized parameters are refused (§3.2)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("Send the parameters as application/x-www-form-urlencoded.")
    form = await request.form()
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str) or name in fields or len(value) > MAX_FIELD:
            raise InvalidRequest(f"The {name!r} parameter is invalid or repeated.")
        fields[name] = value
    return fields
