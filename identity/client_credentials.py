"""The client credentials grant (RFC 6749 §4.4): a machine acting for itself, not for a resident.

Used by integration feeds (garbage-sorting machines, the volunteer platform, public bikes): a
confidential client registered with `wujiang clients add --scope feed:<source>` authenticates
(client_secret_basic, or private_key_jwt) and gets a short-lived access token whose subject is
the client itself, with only the `feed:<source>` scopes it was registered for. No refresh token
(§4.4.3): the client simply authenticates again.

The token says what it is in three ways the feed endpoint checks, so no resident's or staff
member's token can pass for a machine's: `sub` equals `client_id`, `channel` is `partner`, and
`gty` (grant type, as Auth0 names it) is `client_credentials`. Feed scopes are registered alone
on confidential clients (identity.clients), so no other grant can carry one either. The `acr`
claim must hold a resident assurance level; it is the lowest and means nothing for a machine.
Each token gets its own `sid`: disabling the client stops new tokens, and the feed endpoint
also refuses a disabled client's token at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from core.settings import get_settings
from identity import clients, tokens
from identity.errors import InvalidClient, OAuthError
from identity.models import Assurance
from identity.sessions import API_AUDIENCE

GRANT_TYPE = "client_credentials"
GRANT_CLAIM = "gty"
CHANNEL = "partner"


class UnauthorizedClient(OAuthError):
    type = "unauthorized-client"
    title = "The client may not use this grant"
    oauth_error = "unauthorized_client"


class InvalidScope(OAuthError):
    type = "invalid-scope"
    title = "The client may not ask for this scope"
    oauth_error = "invalid_scope"


async def issue(
    session: AsyncSession,
    redis: Redis,
    *,
    authorization: str | None,
    form: Mapping[str, str],
) -> dict[str, Any]:
    """Authenticate the client and issue its access token; the RFC 6749 §5.1 response body."""
    client = await clients.authenticate(session, redis, authorization=authorization, form=form)
    if client.auth_method == "none":
        raise InvalidClient("The client credentials grant is for confidential clients.")
    allowed = [s for s in client.allowed_scopes.split() if clients.is_feed_scope(s)]
    if not allowed:
        raise UnauthorizedClient("This client may not use the client credentials grant.")
    scope = _scope(form.get("scope"), allowed)
    issued = await tokens.issue_access_token(
        session,
        subject=client.client_id,
        client_id=client.client_id,
        audience=API_AUDIENCE,
        scope=scope,
        session_id=new_id(),
        assurance=Assurance.PHONE.value,
        channel=CHANNEL,
        extra={GRANT_CLAIM: GRANT_TYPE},
    )
    return {
        "access_token": issued.token,
        "token_type": "Bearer",
        "expires_in": get_settings().access_token_ttl_seconds,
        "scope": scope,
    }


def _scope(requested: str | None, allowed: list[str]) -> str:
    """The scopes asked for (all the client's, when it asks for none), if it may have them."""
    if requested is None or not requested.strip():
        return " ".join(sorted(allowed))
    scopes = sorted(set(requested.split()))
    if not set(scopes) <= set(allowed):
        raise InvalidScope("The scope asks for more than this client may have.")
    return " ".join(scopes)


def is_machine_token(claims: tokens.AccessClaims) -> bool:
    """Whether the token was issued by this grant (to a client for itself)."""
    return (
        claims.extra.get(GRANT_CLAIM) == GRANT_TYPE
        and claims.channel == CHANNEL
        and claims.sub == claims.client_id
    )
