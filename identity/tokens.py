"""Access tokens: RFC 9068 JWTs signed with ES256, checked without a database query.

Header: `{"alg": "ES256", "kid": <signing key>, "typ": "at+jwt"}`. Claims:

- `iss` (settings.issuer), `sub`, `aud`, `client_id`, `scope` (space-separated),
  `iat`, `nbf` (= `iat`), `exp` (`iat` + settings.access_token_ttl_seconds), `jti` (a UUIDv7);
- `sid`: the sign-in session (identity.sessions), so revoking it reaches its access tokens;
- `acr`: the assurance level (`phone`, `real_name`, `in_person`), the claim RFC 9068 §2.2.1 and
  OpenID Connect use for it, rather than a custom one; staff tokens carry `staff-mfa` (STAFF_ACR:
  password plus TOTP), which no resident's token can;
- `channel`: where the session was opened (`app`, `kiosk`, `tv`, `hotline`, `partner`, `staff`);
- whatever `extra` claims the issuer adds (staff roles, for example), never replacing the above.

Verification refuses, in this order: a malformed token, any algorithm but ES256 (`none` and
every HS* named explicitly, before any key is looked at), a `typ` other than `at+jwt`, an unknown
or retired `kid`, a bad signature, the wrong issuer or audience, an expired or not-yet-valid
token, and a token of a revoked session. Times come from `core.clock` with `LEEWAY_SECONDS` of
tolerance for clock skew between servers. Revocation is one Redis EXISTS.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from core.settings import get_settings
from identity import keys
from identity.errors import InvalidToken
from identity.models import Assurance

AT_JWT_TYP = "at+jwt"
# RFC 9068 §4: resource servers accept the short form and the full media type, in any case.
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
LEEWAY_SECONDS = 30
REGISTERED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "client_id", "scope", "iat", "nbf", "exp", "jti", "sid", "acr", "channel"}
)
_REQUIRED_CLAIMS = sorted(REGISTERED_CLAIMS - {"nbf"})
_MAX_KID_LENGTH = 64  # the column's width: anything longer cannot name a key of ours
# The `acr` of staff sessions (identity.staff): not a resident assurance level, so kept apart.
STAFF_ACR = "staff-mfa"


class Channel(enum.StrEnum):
    """Where a session was opened; services may narrow what each channel's tokens can do."""

    APP = "app"
    KIOSK = "kiosk"
    TV = "tv"
    HOTLINE = "hotline"
    PARTNER = "partner"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    jti: str


class AccessClaims(BaseModel):
    """The verified claims of an access token, named as in the token (`acr` as `assurance`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    iss: str
    sub: str
    aud: str | tuple[str, ...]
    client_id: str
    scope: str
    iat: datetime
    exp: datetime
    jti: str
    sid: uuid.UUID
    assurance: Assurance | Literal["staff-mfa"] = Field(alias="acr")
    channel: Channel
    extra: Mapping[str, Any] = Field(default_factory=dict)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


# --- issuing ---------------------------------------------------------------------------------


async def issue_access_token(
    session: AsyncSession,
    *,
    subject: str,
    client_id: str,
    audience: str,
    scope: str,
    session_id: uuid.UUID,
    assurance: str,
    channel: str,
    extra: dict[str, Any] | None = None,
) -> IssuedToken:
    """A signed access token for `subject` within sign-in session `session_id`.

    `assurance` and `channel` must be values of Assurance and Channel; `extra` claims may not
    reuse a registered claim's name (ValueError, a programming error)."""
    clashes = REGISTERED_CLAIMS.intersection(extra or {})
    if clashes:
        raise ValueError(f"extra claims may not replace {sorted(clashes)}")
    settings = get_settings()
    issued_at = clock.now().replace(microsecond=0)  # NumericDate: whole seconds
    expires_at = issued_at + timedelta(seconds=settings.access_token_ttl_seconds)
    jti = str(new_id())
    claims: dict[str, Any] = {
        **(extra or {}),
        "iss": settings.issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client_id,
        "scope": scope,
        "iat": int(issued_at.timestamp()),
        "nbf": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": jti,
        "sid": str(session_id),
        "acr": STAFF_ACR if assurance == STAFF_ACR else Assurance(assurance).value,
        "channel": Channel(channel).value,
    }
    key = await keys.current_signing_key(session)
    token = jwt.encode(
        claims,
        key.private_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": AT_JWT_TYP},
    )
    return IssuedToken(token=token, expires_at=expires_at, jti=jti)


# --- revocation ------------------------------------------------------------------------------


def revocation_key(session_id: uuid.UUID) -> str:
    return f"revoked:sid:{session_id}"


async def mark_session_revoked(
    redis: Redis, session_id: uuid.UUID, *, ttl_seconds: int | None = None
) -> None:
    """Make every access token of `session_id` fail verification from now on.

    The mark needs to outlive only the tokens already issued, so it expires by itself; a TTL
    shorter than an access token's lifetime plus the leeway is raised to that."""
    minimum = get_settings().access_token_ttl_seconds + LEEWAY_SECONDS
    await redis.set(revocation_key(session_id), "1", ex=max(ttl_seconds or 0, minimum))


# --- verifying -------------------------------------------------------------------------------


async def verify_access_token(
    session: AsyncSession, token: str, *, audience: str, redis: Redis
) -> AccessClaims:
    """The claims of a valid access token for `audience`; InvalidToken with a `reason` otherwise.

    `session` is only used when the process's cache of valid keys is stale (see identity.keys);
    an ordinary verification costs no database query and one Redis round trip."""
    header = _header(token)
    _check_algorithm(header.get("alg"))
    _check_type(header.get("typ"))
    public_key = await _public_key(session, header.get("kid"))
    payload = _decode(token, public_key, audience=audience)
    _check_times(payload)
    claims = _claims(payload)
    if await redis.exists(revocation_key(claims.sid)):
        raise InvalidToken("The session of this token was signed out.", reason="revoked")
    return claims


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken(
            "The access token is not a well-formed JWT.", reason="malformed"
        ) from None


def _check_algorithm(alg: object) -> None:
    # Named explicitly, ahead of the allow-list: `none` would skip the signature, and with HS*
    # a forger could use our *public* key as the HMAC secret (algorithm confusion).
    if not isinstance(alg, str) or alg.lower() == "none" or alg.upper().startswith("HS"):
        raise InvalidToken("The token's algorithm is not accepted.", reason="algorithm")
    if alg != keys.ALGORITHM:
        raise InvalidToken("The token's algorithm is not accepted.", reason="algorithm")


def _check_type(typ: object) -> None:
    # Keeps an ID token, or any other JWT we or a partner sign, from passing as an access token.
    if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
        raise InvalidToken("The token is not an access token (typ at+jwt).", reason="type")


async def _public_key(session: AsyncSession, kid: object) -> ec.EllipticCurvePublicKey:
    if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID_LENGTH:
        raise InvalidToken("The token names no valid signing key.", reason="unknown-key")
    public_key = await keys.verification_key(session, kid)
    if public_key is None:
        raise InvalidToken("The token's signing key is unknown or retired.", reason="unknown-key")
    return public_key


def _decode(token: str, public_key: ec.EllipticCurvePublicKey, *, audience: str) -> dict[str, Any]:
    """The payload once signature, issuer and audience hold; times are checked separately,
    against core.clock rather than PyJWT's own reading of the system clock."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=[keys.ALGORITHM],
            audience=audience,
            issuer=get_settings().issuer,
            options={
                "require": _REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken("The token's signature does not verify.", reason="signature") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken("The token's algorithm is not accepted.", reason="algorithm") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("The token was issued by someone else.", reason="issuer") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("The token is meant for another audience.", reason="audience") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("The token's claims are incomplete.", reason="malformed") from None
    return payload


def _check_times(payload: dict[str, Any]) -> None:
    now = clock.now().timestamp()
    expires, issued = _number(payload, "exp"), _number(payload, "iat")
    not_before = _number(payload, "nbf") if "nbf" in payload else issued
    if now >= expires + LEEWAY_SECONDS:
        raise InvalidToken("The access token has expired.", reason="expired")
    if max(issued, not_before) > now + LEEWAY_SECONDS:
        raise InvalidToken("The access token is not valid yet.", reason="not-yet-valid")


def _number(payload: dict[str, Any], name: str) -> float:
    value = payload.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidToken("The token's times are not numbers.", reason="malformed")
    return float(value)


def _claims(payload: dict[str, Any]) -> AccessClaims:
    try:
        return AccessClaims(
            **{name: payload[name] for name in REGISTERED_CLAIMS - {"nbf", "iat", "exp"}},
            iat=datetime.fromtimestamp(payload["iat"], UTC),
            exp=datetime.fromtimestamp(payload["exp"], UTC),
            extra={k: v for k, v in payload.items() if k not in REGISTERED_CLAIMS},
        )
    except (ValidationError, KeyError, TypeError, ValueError, OverflowError, OSError):
        # OverflowError, OSError: a timestamp beyond what datetime can hold.
        raise InvalidToken("The token's claims are not valid.", reason="malformed") from None
