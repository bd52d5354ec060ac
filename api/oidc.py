"""OpenID Connect provider endpoints beside /oauth2/token: the authorization-code grant handler
(registered in api.oauth.GRANTS), UserInfo, revocation, introspection and discovery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Session
from api.routing import contract_router
from core.redis import get_redis
from core.settings import get_settings
from identity import clients, introspection, oidc
from identity.errors import InsufficientScope, InvalidClient, InvalidRequest, InvalidToken
from identity.models import Client
from mobile_contract.problems import raises

router = contract_router(tags=["partner"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FIELD = 4096
CLAIMS = [
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid",
    "name", "locale", "phone_number", "phone_number_verified", "id_number", "real_name_verified",
]  # fmt: skip


async def authorization_code_grant(
    session: AsyncSession, request: Request, form: Mapping[str, str]
) -> dict[str, Any]:
    """RFC 6749 §4.1.3 + RFC 7636: a partner trades its code and PKCE verifier for tokens."""
    client = await _client(session, request, form)
    if not form.get("code"):
        raise InvalidRequest("code is required.")
    return await oidc.exchange_code(
        session,
        get_redis(),
        client=client,
        code=form["code"],
        redirect_uri=form.get("redirect_uri"),
        code_verifier=form.get("code_verifier"),
    )


@router.get("/oauth2/userinfo")
@router.post("/oauth2/userinfo", operation_id="userinfoPost")
@raises(InvalidToken, InsufficientScope)
async def userinfo(request: Request, session: Session) -> JSONResponse:
    """OIDC Core §5.3: the resident's claims that the partner's token allows."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send the access token as Authorization: Bearer.", reason="malformed")
    claims = await oidc.userinfo(session, get_redis(), access_token=token.strip())
    return JSONResponse(claims, headers=NO_STORE)


@router.post("/oauth2/revoke")
@raises(InvalidRequest, InvalidClient)
async def revoke(request: Request, session: Session) -> Response:
    """RFC 7009: always 200 once the client is authenticated, whatever the token was."""
    form = await _form(request)
    client = await _client(session, request, form)
    await introspection.revoke(session, get_redis(), client=client, token=_token(form))
    return Response(status_code=200, headers=NO_STORE)


@router.post("/oauth2/introspect")
@raises(InvalidRequest, InvalidClient)
async def introspect(request: Request, session: Session) -> JSONResponse:
    """RFC 7662: whether a token of the calling client is active, and its metadata."""
    form = await _form(request)
    client = await _client(session, request, form)
    body = await introspection.introspect(session, get_redis(), client=client, token=_token(form))
    return JSONResponse(body, headers=NO_STORE)


@router.get("/.well-known/openid-configuration")
async def discovery(response: Response) -> dict[str, Any]:
    """OpenID Connect Discovery §3 / RFC 8414 provider metadata."""
    response.headers["Cache-Control"] = "public, max-age=300"
    issuer = get_settings().issuer
    auth_methods = ["client_secret_basic", "private_key_jwt", "none"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": clients.token_endpoint(),
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth2/revoke",
        "introspection_endpoint": f"{issuer}/oauth2/introspect",
        "end_session_endpoint": f"{issuer}/oauth2/logout",
        "device_authorization_endpoint": f"{issuer}/oauth2/device_authorization",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "client_credentials",  # feed machines (api/feeds.py)
        ],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": sorted(clients.SUPPORTED_SCOPES),
        "claims_supported": CLAIMS,
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": list(clients.ASSERTION_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": list(clients.ASSERTION_ALGORITHMS),
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": list(
            clients.ASSERTION_ALGORITHMS
        ),
        "acr_values_supported": ["phone", "real_name", "in_person"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


async def _client(session: AsyncSession, request: Request, form: Mapping[str, str]) -> Client:
    return await clients.authenticate(
        session, get_redis(), authorization=request.headers.get("authorization"), form=form
    )


def _token(form: Mapping[str, str]) -> str:
    if not form.get("token"):
        raise InvalidRequest("token is required.")
    return form["token"]


async def _form(request: Request) -> dict[str, str]:
    """The form body as plain strings; repeated or oversized parameters are refused."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("Send the parameters as application/x-www-form-urlencoded.")
    fields: dict[str, str] = {}
    for name, value in (await request.form()).multi_items():
        if not isinstance(value, str) or name in fields or len(value) > MAX_FIELD:
            raise InvalidRequest(f"The {name!r} parameter is invalid or repeated.")
        fields[name] = value
    return fields
