"""Who is calling: the bearer access token verified into a Principal, and scope checks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import Session
from core.redis import get_redis
from identity import tokens
from identity.errors import InsufficientScope, NotAuthenticated
from identity.sessions import API_AUDIENCE

_bearer = HTTPBearer(auto_error=False, description="Access token from sign-in or /oauth2/token")


@dataclass(frozen=True)
class Principal:
    subject: str
    session_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]
    assurance: str
    channel: str

    @property
    def resident_id(self) -> uuid.UUID:
        return uuid.UUID(self.subject)


async def current_principal(
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller; 401 without a valid, unrevoked access token."""
    if credentials is None:
        raise NotAuthenticated("Sign in: this needs an access token (Authorization: Bearer).")
    claims = await tokens.verify_access_token(
        session, credentials.credentials, audience=API_AUDIENCE, redis=get_redis()
    )
    return Principal(
        subject=claims.sub,
        session_id=claims.sid,
        client_id=claims.client_id,
        scopes=frozenset(claims.scope.split()),
        assurance=claims.assurance,
        channel=claims.channel,
    )


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if their token carries `scope`; 403 otherwise."""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise InsufficientScope(f"This needs the {scope!r} scope.", scope=scope)
        return principal

    return dependency


CurrentResident = Annotated[Principal, Depends(require("profile"))]
