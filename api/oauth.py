"""OAuth 2.0 endpoints (RFC 6749). Their refusals are rendered with the RFC's own body,
`{"error": …, "error_description": …}`, by the shared handler in api/errors.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse

from api.deps import Session
from core.redis import get_redis
from identity import sessions
from identity.errors import InvalidRequest, UnsupportedGrantType

router = APIRouter(prefix="/oauth2", tags=["partner", "app"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/token")
async def token(
    session: Session,
    grant_type: Annotated[str, Form(max_length=100)],
    client_id: Annotated[str, Form(max_length=100)],
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
) -> JSONResponse:
    """Token endpoint. Today: the `refresh_token` grant for first-party clients."""
    if grant_type != "refresh_token":
        raise UnsupportedGrantType(f"The {grant_type!r} grant is not supported here.")
    if not refresh_token:
        raise InvalidRequest("refresh_token is required.")
    issued = await sessions.refresh(
        session, get_redis(), refresh_token=refresh_token, client_id=client_id
    )
    return JSONResponse(issued.model_dump(mode="json"), headers=NO_STORE)
