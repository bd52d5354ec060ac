"""What the identity service returns. Personal data leaves only masked.

The examples are what a client really receives (masked as `core.crypto` masks, tokens shortened
and fake). The OAuth and OpenID Connect bodies at the end are built as plain dicts by their
endpoints; they are described here as TypedDicts, whose optional members are absent (never
`null`) when they do not apply, exactly as the RFCs define them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, with_config
from pydantic.config import JsonDict
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from core.pagination import Page

# Shortened, fake values for the examples: never a token that would verify.
EXAMPLE_ACCESS_TOKEN = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIwMTkzYTFi….kYF3r0…"  # noqa: S105
EXAMPLE_ID_TOKEN = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lk….Xk2w9q…"  # noqa: S105
EXAMPLE_REFRESH_TOKEN = "DAFVLnKSyj7RtN3KhKtWyAu4Z-W9h-X0TBxHi4olekw"  # noqa: S105
EXAMPLE_ISSUER = "https://id.wujiang.gov.cn"
EXAMPLE_PARTNER_ID = "FKFALze_2aEwOBpIH0maTTrV"
EXAMPLE_PAIRWISE_SUB = "Zjvgb_MQts3X0uQBJeVXh0JIwT1MY9yz8g94qF0TySI"
EXAMPLE_RESIDENT_ID = "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b"
EXAMPLE_SESSION_ID = "0193b7e4-2a51-7c08-b3d6-91f0e5a7c2d4"
EXAMPLE_KID = "0193a0fe-4b2c-7d1e-9f3a-5b6c7d8e9f01"

_PROFILE_EXAMPLE: JsonDict = {
    "id": EXAMPLE_RESIDENT_ID,
    "phone": "138****5678",
    "name": "张*",
    "id_number": "3205**********1234",
    "assurance": "real_name",
    "language": "zh",
    "has_password": True,
    "real_name_verified_at": "2025-03-14T02:31:07Z",
    "created_at": "2024-11-02T06:15:44Z",
}


class ResidentProfile(BaseModel):
    """The resident's account as the app and counter clerks see it: personal data masked."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROFILE_EXAMPLE]})

    id: uuid.UUID
    phone: str = Field(description="Masked: `138****5678`.")
    name: str | None = Field(description="Masked, family name kept (`张*`); null until verified.")
    id_number: str | None = Field(description="Masked: `3205**********1234`; null until verified.")
    assurance: str = Field(
        description="How sure we are who the resident is: `phone` (L1), `real_name` (L2, name "
        "and ID number verified), `in_person` (L3, ID card seen at a counter)."
    )
    language: str = Field(description="Of texts and notices: `zh` or `en`.")
    has_password: bool
    real_name_verified_at: datetime | None
    created_at: datetime


class RealNameResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"profile": _PROFILE_EXAMPLE, "method": "service"}]}
    )

    profile: ResidentProfile
    # "service" when the verification service confirmed the pair; "format-only" in development.
    method: str = Field(
        description="`service`: the national verification service confirmed the pair; "
        "`format-only` in development, where only the ID number's format is checked."
    )


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 token response, plus the session it belongs to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": EXAMPLE_ACCESS_TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "refresh_token": EXAMPLE_REFRESH_TOKEN,
                    "scope": "profile sessions points:read",
                    "session_id": EXAMPLE_SESSION_ID,
                }
            ]
        }
    )

    access_token: str = Field(description="ES256 JWT; send as `Authorization: Bearer`.")
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6749 token type, not a secret
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str = Field(
        description="Opaque; rotates on every use (`grant_type=refresh_token` at "
        "`/oauth2/token`). A refresh token used twice ends the session."
    )
    scope: str = Field(description="Space-separated scopes of the access token.")
    session_id: uuid.UUID = Field(description="The sign-in session, as listed in my sessions.")


class SessionOut(BaseModel):
    """One signed-in device or channel."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_SESSION_ID,
                    "client_id": "wujiang-app",
                    "channel": "app",
                    "device_name": "华为 Mate 60 Pro",
                    "assurance": "real_name",
                    "created_at": "2025-03-14T01:26:53Z",
                    "last_used_at": "2025-03-20T11:02:19Z",
                    "expires_at": "2025-04-13T01:26:53Z",
                }
            ]
        }
    )

    id: uuid.UUID
    client_id: str = Field(
        description="`wujiang-app`, `wujiang-tv`, `wujiang-staff`, or a partner's client id."
    )
    channel: str = Field(description="`app`, `tv`, `partner` or `staff`.")
    device_name: str | None
    assurance: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime


class ConsentOut(BaseModel):
    """What a resident allowed a partner to receive (identity.consents)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": EXAMPLE_PARTNER_ID,
                    "client_name": "吴江公共自行车",
                    "scopes": ["openid", "phone", "profile"],
                    "granted_at": "2025-02-08T03:45:12Z",
                }
            ]
        }
    )

    client_id: str
    client_name: str
    scopes: list[str] = Field(description="OpenID Connect scopes: openid, profile, phone, …")
    granted_at: datetime


class DeviceAuthorization(BaseModel):
    """RFC 8628 §3.2 device authorization response, for the TV box."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_code": "NG0Bklk-c-iqzBPKHNIMwkGu3xAbvnMnQ2hT8sWd1fE",
                    "user_code": "WDJB-MJHT",
                    "verification_uri": f"{EXAMPLE_ISSUER}/device",
                    "verification_uri_complete": f"{EXAMPLE_ISSUER}/device?user_code=WDJB-MJHT",
                    "expires_in": 600,
                    "interval": 5,
                }
            ]
        }
    )

    device_code: str = Field(description="Secret: the box polls `/oauth2/token` with it.")
    user_code: str = Field(description="Shown on the screen as `BCDF-GHJK`.")  # 8 consonants
    verification_uri: str = Field(description="Where a resident without the app may go.")
    verification_uri_complete: str = Field(description="The same with the code, for a QR code.")
    expires_in: int = Field(description="Seconds until both codes expire.")
    interval: int = Field(description="Seconds to wait between polls (`slow_down` adds 5).")


class DeviceRequest(BaseModel):
    """A TV box's pending request as the resident's app shows it before approving."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_code": "WDJB-MJHT",
                    "client_id": "wujiang-tv",
                    "client_name": "智慧吴江 电视",
                    "scope": ["points:read"],
                    "status": "pending",
                    "expires_at": "2025-03-20T12:10:00Z",
                    "expires_in": 540,
                }
            ]
        }
    )

    user_code: str
    client_id: str
    client_name: str
    scope: list[str]
    status: str = Field(description="`pending` (preview), `approved` or `denied`.")
    expires_at: datetime
    expires_in: int = Field(description="Seconds left to decide.")


# --- OAuth 2.0 and OpenID Connect bodies -------------------------------------------------------


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": EXAMPLE_ACCESS_TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "scope": "openid profile phone offline_access",
                    "refresh_token": EXAMPLE_REFRESH_TOKEN,
                    "id_token": EXAMPLE_ID_TOKEN,
                },
                {
                    "access_token": EXAMPLE_ACCESS_TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "refresh_token": EXAMPLE_REFRESH_TOKEN,
                    "scope": "points:read",
                    "session_id": EXAMPLE_SESSION_ID,
                },
                {
                    "access_token": EXAMPLE_ACCESS_TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "scope": "feed:garbage-sorting",
                },
            ]
        }
    )
)
class TokenGrantResponse(TypedDict):
    """RFC 6749 §5.1 successful token response of `/oauth2/token`, for every grant type
    (examples: a partner's `authorization_code`; a TV box's device grant, as the `refresh_token`
    grant answers too; `client_credentials`). Always sent with `Cache-Control: no-store`."""

    access_token: Annotated[
        str, Field(description="ES256 JWT (`typ` `at+jwt`); send as `Authorization: Bearer`.")
    ]
    token_type: Literal["Bearer"]
    expires_in: Annotated[int, Field(description="Seconds the access token is valid.")]
    scope: Annotated[str, Field(description="Space-separated scopes granted.")]
    refresh_token: NotRequired[
        Annotated[
            str,
            Field(
                description="Rotates on every use: store the new one each time. Sent by the "
                "`refresh_token` and device grants, and by `authorization_code` when the scope "
                "has `offline_access`; never by `client_credentials` (authenticate again)."
            ),
        ]
    ]
    id_token: NotRequired[
        Annotated[
            str,
            Field(
                description="OpenID Connect ID token (ES256, 10 minutes, pairwise `sub`, "
                "`nonce` as sent to /oauth2/authorize): `authorization_code` with `openid` only."
            ),
        ]
    ]
    session_id: NotRequired[
        Annotated[
            uuid.UUID,
            Field(
                description="The sign-in session the tokens belong to: sent by the "
                "`refresh_token` and device grants."
            ),
        ]
    ]


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "active": True,
                    "scope": "openid profile phone",
                    "client_id": EXAMPLE_PARTNER_ID,
                    "sub": EXAMPLE_PAIRWISE_SUB,
                    "exp": 1742470200,
                    "iat": 1742469600,
                    "token_type": "Bearer",
                    "aud": "wujiang-partner",
                    "iss": EXAMPLE_ISSUER,
                    "jti": "0193b7f0-91c2-7e35-a8d4-6f1b2c3d4e5f",
                },
                {
                    "active": True,
                    "scope": "openid profile phone offline_access",
                    "client_id": EXAMPLE_PARTNER_ID,
                    "sub": EXAMPLE_PAIRWISE_SUB,
                    "exp": 1745047800,
                    "token_type": "refresh_token",
                },
                {"active": False},
            ]
        }
    )
)
class IntrospectionResponse(TypedDict):
    """RFC 7662 §2.2 (examples: an access token, a refresh token, an inactive token). A token
    that is unknown, expired, revoked or issued to another client is `{"active": false}` and
    nothing else; the other members come with an active token only (`aud`, `iat`, `iss` and
    `jti` for access tokens)."""

    active: bool
    scope: NotRequired[str]
    client_id: NotRequired[str]
    sub: NotRequired[
        Annotated[str, Field(description="Pairwise for partner tokens (as in the ID token).")]
    ]
    exp: NotRequired[Annotated[int, Field(description="Unix seconds.")]]
    iat: NotRequired[Annotated[int, Field(description="Unix seconds (access tokens).")]]
    token_type: NotRequired[Literal["Bearer", "refresh_token"]]
    aud: NotRequired[str]
    iss: NotRequired[str]
    jti: NotRequired[str]


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sub": EXAMPLE_PAIRWISE_SUB,
                    "locale": "zh",
                    "name": "张三",
                    "phone_number": "+8613800138000",
                    "phone_number_verified": True,
                },
                {
                    "sub": EXAMPLE_PAIRWISE_SUB,
                    "real_name_verified": True,
                    "acr": "in_person",
                    "name": "张三",
                    "id_number": "11010519491231002X",
                },
                {"sub": EXAMPLE_PAIRWISE_SUB},
            ]
        }
    )
)
class UserInfo(TypedDict):
    """OpenID Connect Core §5.3 UserInfo: the claims the token's scopes allow, unmasked (the
    resident consented to each; examples: `openid profile phone`, `openid real_name` after a
    counter check, `openid`). Claims without a value are left out, never `null`."""

    sub: Annotated[str, Field(description="Pairwise: this partner's own id for the resident.")]
    locale: NotRequired[Annotated[str, Field(description="`profile`: `zh` or `en`.")]]
    name: NotRequired[
        Annotated[
            str,
            Field(description="`profile` or `real_name`: only once the real name is verified."),
        ]
    ]
    phone_number: NotRequired[Annotated[str, Field(description="`phone`: E.164, `+86…`.")]]
    phone_number_verified: NotRequired[bool]
    real_name_verified: NotRequired[Annotated[bool, Field(description="`real_name`.")]]
    acr: NotRequired[
        Annotated[str, Field(description="`real_name`: `phone`, `real_name` or `in_person`.")]
    ]
    id_number: NotRequired[
        Annotated[str, Field(description="`real_name`: the resident ID number, when verified.")]
    ]


@with_config(
    ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "x": "uX5pPgL4ULMMNN1nNxxwH3uK-Ywc3Rlo4bof9eTF6Ho",
                    "y": "XJu0WMUSMLPzkexEMoh4_bEMj6hBHRpeCQ9_dX_HVTI",
                    "kid": EXAMPLE_KID,
                    "use": "sig",
                    "alg": "ES256",
                }
            ]
        }
    )
)
class Jwk(TypedDict):
    """RFC 7517 / RFC 7518 §6.2 public EC key that verifies our access and ID tokens."""

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str
    y: str
    kid: Annotated[str, Field(description="Matches the `kid` header of the tokens it signed.")]
    use: Literal["sig"]
    alg: Literal["ES256"]


class JwkSet(TypedDict):
    """RFC 7517 §5 JWK set: every unretired signing key, newest (the signing one) first."""

    keys: list[Jwk]


class SessionPage(Page[SessionOut]):
    """Devices signed in, most recently used first."""


class ConsentPage(Page[ConsentOut]):
    """Partners the resident allowed, most recent first."""
