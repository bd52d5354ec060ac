"""OpenID Connect provider endpoints beside /oauth2/token: the authorization-code grant handler
(registered in api.oauth.GRANTS), UserInfo, revocation, introspection and discovery."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired

from fastapi import Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer
from pydantic import ConfigDict, Field, TypeAdapter, with_config
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from api.deps import Session
from api.routing import contract_router
from core.redis import get_redis
from core.settings import get_settings
from identity import clients, introspection, oidc
from identity.errors import InsufficientScope, InvalidClient, InvalidRequest, InvalidToken
from identity.models import Client
from identity.schemas import (
    EXAMPLE_ACCESS_TOKEN,
    EXAMPLE_ISSUER,
    EXAMPLE_REFRESH_TOKEN,
    IntrospectionResponse,
    UserInfo,
)
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


# --- client authentication, as the contract shows it -------------------------------------------


class _DocumentedBasic(HTTPBasic):
    """HTTP Basic in the contract, checked by nobody here: `identity.clients.authenticate` reads
    the header itself (each half form-decoded, UTF-8, RFC 6749 error bodies), where FastAPI's
    HTTPBasic would refuse a malformed header with its own 401."""

    async def __call__(self, request: HTTPConnection) -> None:
        return None


CLIENT_SECRET_BASIC = _DocumentedBasic(
    auto_error=False,
    scheme_name="ClientSecretBasic",
    description="A partner's `client_id` and secret (`client_secret_basic`, RFC 6749 §2.3.1: "
    "each form-encoded, then joined by `:` and Base64-encoded), from `wujiang clients add`. "
    "Public clients such as the app (`wujiang-app`) and TV boxes (`wujiang-tv`) send "
    "`client_id` in the form instead; `private_key_jwt` clients send `client_assertion_type` "
    "and `client_assertion` (RFC 7523) in the form. `client_secret_post` is refused.",
)
# Optional: `{}` beside the scheme says a request may also come without HTTP Basic.
ClientAuthentication = Annotated[None, Security(CLIENT_SECRET_BASIC)]
OPTIONAL_CLIENT_AUTHENTICATION: list[dict[str, list[str]]] = [{}]
_PARTNER_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="PartnerAccessToken",
    bearerFormat="JWT",
    description="A partner's access token for a resident, from `/oauth2/token` "
    "(authorization code or refresh grant) with the `openid` scope.",
)
JWT_BEARER_ASSERTION = Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]


class ClientAuthenticationFields(TypedDict):
    """The form fields of a client that does not authenticate with HTTP Basic."""

    client_id: NotRequired[
        Annotated[
            str,
            Field(
                max_length=100,
                description="Public clients (the app, TV boxes, registered `none` clients): "
                "required. With HTTP Basic or an assertion it may be left out; if sent it must "
                "name the same client.",
            ),
        ]
    ]
    client_assertion_type: NotRequired[
        Annotated[JWT_BEARER_ASSERTION, Field(description="`private_key_jwt` (RFC 7523).")]
    ]
    client_assertion: NotRequired[
        Annotated[
            str,
            Field(
                max_length=4096,
                description="`private_key_jwt`: a JWT signed with a registered key, `iss` and "
                "`sub` the client_id, `aud` the token endpoint (or the issuer), `exp` at most "
                "5 minutes ahead, a `jti` used once.",
            ),
        ]
    ]


class TokenForm(ClientAuthenticationFields):
    """RFC 7009 §2.1 revocation and RFC 7662 §2.1 introspection request."""

    token: Annotated[str, Field(max_length=4096, description="An access token or a refresh token.")]
    token_type_hint: NotRequired[
        Annotated[
            str,
            Field(
                max_length=4096,
                examples=["access_token", "refresh_token"],
                description="`access_token` or `refresh_token`; a hint only (RFC 7009 §2.1): "
                "both kinds are looked up whatever it says, and a value we do not know is "
                "ignored.",
            ),
        ]
    ]


def form_body(form: type[Any], examples: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI request body for a form read by hand (`await request.form()`)."""
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": TypeAdapter(form).json_schema(),
                "examples": examples,
            }
        },
    }


_TOKEN_FORM_EXAMPLES = {
    "access-token": {
        "summary": "An access token (client authenticated with HTTP Basic)",
        "value": {"token": EXAMPLE_ACCESS_TOKEN},
    },
    "refresh-token": {
        "summary": "A refresh token, with a hint",
        "value": {"token": EXAMPLE_REFRESH_TOKEN, "token_type_hint": "refresh_token"},
    },
}


# --- UserInfo, revocation, introspection ---------------------------------------------------------

_USERINFO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": UserInfo,
        "description": "The claims the token's scopes allow; sent with `Cache-Control: no-store`.",
    }
}


@router.get(
    "/oauth2/userinfo", summary="The resident's claims (UserInfo)", responses=_USERINFO_RESPONSES
)
@router.post(
    "/oauth2/userinfo",
    operation_id="userinfoPost",
    summary="The resident's claims (UserInfo), by POST",
    responses=_USERINFO_RESPONSES,
)
@raises(InvalidToken, InsufficientScope)
async def userinfo(
    request: Request,
    session: Session,
    _token: Annotated[HTTPAuthorizationCredentials | None, Security(_PARTNER_BEARER)],
) -> JSONResponse:
    """OIDC Core §5.3: the resident's claims that the partner's token allows (`profile`: name
    and locale; `phone`; `real_name`: verified name and ID number, and `acr`), unmasked, as the
    resident consented. Names are released only once the real name is verified. The token goes
    in the header only (not in a form). 401 `invalid-token` once the session has ended (the
    resident withdrew consent or signed out): send the resident through /oauth2/authorize again."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Send the access token as Authorization: Bearer.", reason="malformed")
    claims = await oidc.userinfo(session, get_redis(), access_token=token.strip())
    return JSONResponse(claims, headers=NO_STORE)


@router.post(
    "/oauth2/revoke",
    summary="Revoke a token",
    response_class=Response,
    responses={
        200: {
            "description": "Empty. The token's session is ended (its access and refresh tokens "
            "stop at once), or the token was unknown, expired or another client's: RFC 7009 "
            "§2.2 answers the same either way."
        }
    },
    openapi_extra={
        "requestBody": form_body(TokenForm, _TOKEN_FORM_EXAMPLES),
        "security": OPTIONAL_CLIENT_AUTHENTICATION,
    },
)
@raises(InvalidRequest, InvalidClient)
async def revoke(
    request: Request, session: Session, _client_auth: ClientAuthentication
) -> Response:
    """RFC 7009: end the sign-in session behind an access or refresh token of this client (on
    the partner's own sign-out, say). Always 200 once the client is authenticated, whatever the
    token was; nothing to retry."""
    form = await _form(request)
    client = await _client(session, request, form)
    await introspection.revoke(session, get_redis(), client=client, token=_token(form))
    return Response(status_code=200, headers=NO_STORE)


@router.post(
    "/oauth2/introspect",
    summary="Introspect a token",
    responses={
        200: {
            "model": IntrospectionResponse,
            "description": "RFC 7662 §2.2; sent with `Cache-Control: no-store`.",
        }
    },
    openapi_extra={
        "requestBody": form_body(TokenForm, _TOKEN_FORM_EXAMPLES),
        "security": OPTIONAL_CLIENT_AUTHENTICATION,
    },
)
@raises(InvalidRequest, InvalidClient)
async def introspect(
    request: Request, session: Session, _client_auth: ClientAuthentication
) -> JSONResponse:
    """RFC 7662: whether a token of the calling client is active, and its metadata. A client
    only ever learns about its own tokens: any other is `{"active": false}`."""
    form = await _form(request)
    client = await _client(session, request, form)
    body = await introspection.introspect(session, get_redis(), client=client, token=_token(form))
    return JSONResponse(body, headers=NO_STORE)


# --- discovery -----------------------------------------------------------------------------------


def provider_metadata(issuer: str) -> dict[str, Any]:
    """OpenID Connect Discovery §3 / RFC 8414 metadata of the provider at `issuer`."""
    auth_methods = ["client_secret_basic", "private_key_jwt", "none"]
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
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


@with_config(ConfigDict(json_schema_extra={"examples": [provider_metadata(EXAMPLE_ISSUER)]}))
class ProviderMetadata(TypedDict):
    """OpenID Connect Discovery 1.0 §3 / RFC 8414 §2 provider metadata (with RFC 7009, RFC 7662,
    RFC 8628 and RP-Initiated Logout endpoints). Every member is always present."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    end_session_endpoint: str
    device_authorization_endpoint: str
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    code_challenge_methods_supported: list[str]
    scopes_supported: list[str]
    claims_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_signing_alg_values_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_signing_alg_values_supported: list[str]
    acr_values_supported: list[str]
    claims_parameter_supported: bool
    request_parameter_supported: bool
    authorization_response_iss_parameter_supported: bool


@router.get(
    "/.well-known/openid-configuration",
    summary="OpenID Connect provider metadata",
    response_model=None,
    responses={
        200: {
            "model": ProviderMetadata,
            "description": "Cacheable for 5 minutes (`Cache-Control: public, max-age=300`).",
        }
    },
)
async def discovery(response: Response) -> dict[str, Any]:
    """OpenID Connect Discovery §3 / RFC 8414 provider metadata: the endpoints, scopes, claims
    and algorithms a partner configures its OpenID Connect library from."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return provider_metadata(get_settings().issuer)


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
