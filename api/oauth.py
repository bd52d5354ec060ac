"""OAuth 2.0 token endpoint (RFC 6749 §3.2). Each grant type is a handler registered in
GRANTS; refusals are rendered with the RFC's own body (`{"error": …}`) by api/errors.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal, NotRequired

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Session
from api.device import DEVICE_CODE_GRANT, device_code_grant
from api.feeds import client_credentials_grant
from api.oidc import (
    OPTIONAL_CLIENT_AUTHENTICATION,
    ClientAuthentication,
    ClientAuthenticationFields,
    authorization_code_grant,
    form_body,
)
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
from identity.schemas import (
    EXAMPLE_REFRESH_TOKEN,
    TokenGrantResponse,
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


class TokenRequest(ClientAuthenticationFields):
    """RFC 6749 §4.1.3, §4.4.2, §6 and RFC 8628 §3.4 token request: `grant_type` and the fields
    of that grant. Client authentication as for every /oauth2/ endpoint: HTTP Basic, a client
    assertion, or (public clients) `client_id` alone."""

    grant_type: Literal[
        "urn:ietf:params:oauth:grant-type:device_code",
        "authorization_code",
        "refresh_token",
        "client_credentials",
    ]
    code: NotRequired[
        Annotated[str, Field(description="`authorization_code`: the code from the redirect.")]
    ]
    redirect_uri: NotRequired[
        Annotated[
            str,
            Field(
                description="`authorization_code`: exactly the redirect_uri of the "
                "authorization request."
            ),
        ]
    ]
    code_verifier: NotRequired[
        Annotated[
            str,
            Field(
                min_length=43,
                max_length=128,
                description="`authorization_code`: the PKCE verifier (RFC 7636) whose S256 "
                "hash was the code_challenge.",
            ),
        ]
    ]
    refresh_token: NotRequired[
        Annotated[
            str,
            Field(
                description="`refresh_token`: the latest refresh token; the answer carries its "
                "successor, and the one sent stops working."
            ),
        ]
    ]
    device_code: NotRequired[
        Annotated[
            str,
            Field(
                description="Device grant: from /oauth2/device_authorization; with `client_id`. "
                "Poll no faster than its `interval`."
            ),
        ]
    ]
    scope: NotRequired[
        Annotated[
            str,
            Field(
                description="`client_credentials`: space-separated `feed:<source>` scopes, "
                "among the client's (all of them when left out)."
            ),
        ]
    ]


_TOKEN_REQUEST_EXAMPLES = {
    "authorization-code": {
        "summary": "A partner's code and PKCE verifier (client authenticated with HTTP Basic)",
        "value": {
            "grant_type": "authorization_code",
            "code": "hX6cN2r0Gk9WQ1pLm8ZtV4yB7sJd3aFe5uCo0iRnTqY",
            "redirect_uri": "https://tongban.example.gov.cn/oauth/callback",
            "code_verifier": "k3ZQv9yTa0Lw8NcR2mXe5Pb7Uj1Hs4Fd6Gi0Ko9Vt3Wq",
        },
    },
    "refresh-token-app": {
        "summary": "The app refreshes its tokens (a public client)",
        "value": {
            "grant_type": "refresh_token",
            "refresh_token": EXAMPLE_REFRESH_TOKEN,
            "client_id": "wujiang-app",
        },
    },
    "device-code": {
        "summary": "A TV box polls for its tokens",
        "value": {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": "NG0Bklk-c-iqzBPKHNIMwkGu3xAbvnMnQ2hT8sWd1fE",
            "client_id": "wujiang-tv",
        },
    },
    "client-credentials": {
        "summary": "A feed machine's token (client authenticated with HTTP Basic)",
        "value": {"grant_type": "client_credentials", "scope": "feed:garbage-sorting"},
    },
}


@router.post(
    "/token",
    summary="Get tokens (every grant type)",
    responses={
        200: {
            "model": TokenGrantResponse,
            "description": "RFC 6749 §5.1; sent with `Cache-Control: no-store`. Which optional "
            "members come depends on the grant (see each one).",
        }
    },
    openapi_extra={
        "requestBody": form_body(TokenRequest, _TOKEN_REQUEST_EXAMPLES),
        "security": OPTIONAL_CLIENT_AUTHENTICATION,
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
async def token(
    request: Request, session: Session, _client_auth: ClientAuthentication
) -> JSONResponse:
    """Token endpoint, dispatching on `grant_type`:

    - `authorization_code` (partners, RFC 6749 §4.1.3 + PKCE): the code once, within a minute;
      `id_token` with `openid`, `refresh_token` with `offline_access`. A code used twice is
      refused and revokes what its first use gave.
    - `refresh_token` (RFC 6749 §6): new tokens and a new refresh token; the one sent stops
      working. Partners authenticate; the app, TV boxes and staff send their `client_id`.
      `invalid_grant` means sign in again; a refresh token used twice ends the session.
    - device code (TV boxes, RFC 8628 §3.4): poll every `interval` seconds while the answer is
      `authorization_pending`; on `slow_down` add 5 s to the interval; `access_denied` and
      `expired_token` are final.
    - `client_credentials` (feed machines, RFC 6749 §4.4): a token for the machine itself, no
      refresh token: authenticate again when it expires."""
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
