"""Partner clients of the OpenID Connect provider: registration and client authentication.

Confidential clients authenticate at the token, revocation and introspection endpoints with
`client_secret_basic` (RFC 6749 §2.3.1) or `private_key_jwt` (RFC 7523 §2.2, OIDC Core §9);
public clients (`none`) send only their client_id, and PKCE is then the only proof.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote_plus, urlsplit

import jwt
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_settings
from identity.errors import ClientNotFound, InvalidClient, InvalidClientMetadata, InvalidRequest
from identity.models import Client

AuthMethod = Literal["client_secret_basic", "private_key_jwt", "none"]
# Our own apps: public clients, not rows in identity_client. Their refresh tokens are bound to a
# device session and rotate on every use; partners authenticate at every use instead.
APP_CLIENT_ID = "wujiang-app"
TV_CLIENT_ID = "wujiang-tv"
STAFF_CLIENT_ID = "wujiang-staff"
FIRST_PARTY_CLIENTS = frozenset({APP_CLIENT_ID, TV_CLIENT_ID, STAFF_CLIENT_ID})

SUPPORTED_SCOPES = frozenset({"openid", "profile", "phone", "real_name", "offline_access"})
# Besides those, machine clients may hold `feed:<source>` scopes (see is_feed_scope).
FEED_SCOPE = re.compile(r"feed:[a-z0-9][a-z0-9-]{0,63}")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 300  # seconds: an assertion may not be valid for longer than this ahead
LEEWAY_SECONDS = 30
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
_KEY_TYPES = {"EC": ("ES256", "ES384", "ES512"), "RSA": ("RS256", "RS384", "RS512", "PS256")}
ASSERTION_ALGORITHMS = _KEY_TYPES["EC"] + _KEY_TYPES["RSA"]

client_t = Client.metadata.tables["identity_client"]


def token_endpoint() -> str:
    return f"{get_settings().issuer}/oauth2/token"


# --- registration ----------------------------------------------------------------------------


async def register(
    session: AsyncSession,
    *,
    name: str,
    redirect_uris: list[str],
    scopes: list[str],
    auth_method: AuthMethod,
    jwks: dict[str, Any] | None,
    post_logout_redirect_uris: list[str] | None = None,
) -> tuple[Client, str | None]:
    """Register a partner; the plaintext secret is returned here once (client_secret_basic)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise InvalidClientMetadata("The client needs a name of 1-200 characters.")
    feeds = {s for s in scopes if is_feed_scope(s)}
    if feeds:
        _check_machine_client(scopes, feeds, auth_method)
    elif not redirect_uris:
        raise InvalidClientMetadata("Register at least one redirect URI.")
    for uri in [*redirect_uris, *(post_logout_redirect_uris or [])]:
        check_redirect_uri(uri)
    unknown = set(scopes) - SUPPORTED_SCOPES - feeds
    if unknown or not scopes:
        raise InvalidClientMetadata(f"Scopes must be among {' '.join(sorted(SUPPORTED_SCOPES))}.")
    if auth_method not in ("client_secret_basic", "private_key_jwt", "none"):
        raise InvalidClientMetadata("Unknown token endpoint authentication method.")
    if auth_method == "private_key_jwt":
        _check_jwks(jwks)
    elif jwks is not None:
        raise InvalidClientMetadata("A JWKS is only for private_key_jwt clients.")
    secret = secrets.token_urlsafe(32) if auth_method == "client_secret_basic" else None
    client = Client(
        client_id=secrets.token_urlsafe(18),
        name=name,
        redirect_uris=list(dict.fromkeys(redirect_uris)),
        post_logout_redirect_uris=list(dict.fromkeys(post_logout_redirect_uris or [])),
        allowed_scopes=" ".join(sorted(set(scopes))),
        auth_method=auth_method,
        secret_hash=_hash_secret(secret) if secret else None,
        jwks=jwks if auth_method == "private_key_jwt" else None,
        created_at=clock.now(),
    )
    session.add(client)
    await session.flush()
    return client, secret


def is_feed_scope(scope: str) -> bool:
    """`feed:<source>`: sending an integration feed's batches (identity.client_credentials)."""
    return FEED_SCOPE.fullmatch(scope) is not None


def _check_machine_client(scopes: list[str], feeds: set[str], auth_method: str) -> None:
    # A machine's scopes never mix with residents' (no `openid`, so no authorization code
    # flow) and need a confidential client (no device flow): only client credentials get them.
    if set(scopes) != feeds or auth_method == "none":
        raise InvalidClientMetadata(
            "feed:<source> scopes are for machine clients: register them alone, with "
            "client_secret_basic or private_key_jwt; no redirect URI is needed."
        )


def check_redirect_uri(uri: str) -> None:
    """Absolute https (or http on localhost), no fragment; stored and matched exactly."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InvalidClientMetadata("A redirect URI is not a valid URI.") from None
    if len(uri) > 2000 or not parts.hostname or parts.fragment or "#" in uri:
        raise InvalidClientMetadata("Redirect URIs must be absolute and have no fragment.")
    if parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS:
        return
    if parts.scheme != "https":
        raise InvalidClientMetadata("Redirect URIs must use https (http only for localhost).")


def _check_jwks(jwks: dict[str, Any] | None) -> None:
    members = (jwks or {}).get("keys")
    if isinstance(members, list) and any(isinstance(k, dict) and "d" in k for k in members):
        # A private key sent to us is a leaked key: refuse rather than store it.
        raise InvalidClientMetadata("The JWKS must hold public keys only.")
    try:
        keys = jwt.PyJWKSet.from_dict(jwks or {}).keys
    except (jwt.PyJWKSetError, jwt.PyJWKError, TypeError, KeyError, ValueError):
        raise InvalidClientMetadata("private_key_jwt needs a valid JWKS.") from None
    for key in keys:
        if key.key_type in _KEY_TYPES and _is_private(key) is False:
            return
    raise InvalidClientMetadata("The JWKS needs at least one EC or RSA public key.")


def _is_private(key: jwt.PyJWK) -> bool:
    return hasattr(key.key, "private_bytes")


def _hash_secret(secret: str) -> str:
    # 256 random bits: a plain SHA-256 is as strong as any slow hash here.
    return hashlib.sha256(secret.encode()).hexdigest()


# --- lookup ----------------------------------------------------------------------------------


async def get_client(session: AsyncSession, client_id: str) -> Client:
    """An enabled client; ClientNotFound for an unknown or disabled one."""
    client = await session.get(Client, client_id) if 0 < len(client_id) <= 100 else None
    if client is None or client.disabled_at is not None:
        raise ClientNotFound("No such client, or it is disabled.")
    return client


async def list_clients(session: AsyncSession) -> list[Client]:
    rows = await session.scalars(select(Client).order_by(client_t.c.created_at))
    return list(rows)


# --- authentication --------------------------------------------------------------------------


async def authenticate(
    session: AsyncSession,
    redis: Redis,
    *,
    authorization: str | None,
    form: Mapping[str, str],
) -> Client:
    """The client making this request, by the one method it registered; InvalidClient otherwise.

    `authorization` is the HTTP Authorization header, `form` the request's form fields."""
    basic = bool(authorization and authorization[:6].lower() == "basic ")
    assertion = "client_assertion" in form or "client_assertion_type" in form
    if "client_secret" in form:
        raise InvalidClient("client_secret_post is not supported; use HTTP Basic.", basic=basic)
    if basic and assertion:
        raise InvalidRequest("Use exactly one client authentication method.")
    if basic:
        assert authorization is not None
        return await _basic(session, authorization, form)
    if assertion:
        return await _private_key_jwt(session, redis, form)
    return await _public(session, form)


async def _known(session: AsyncSession, client_id: str, *, basic: bool = False) -> Client:
    try:
        return await get_client(session, client_id)
    except ClientNotFound:
        raise InvalidClient("Client authentication failed.", basic=basic) from None


async def _basic(session: AsyncSession, authorization: str, form: Mapping[str, str]) -> Client:
    refused = InvalidClient("Client authentication failed.", basic=True)
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise refused from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise refused
    # RFC 6749 §2.3.1: both halves are application/x-www-form-urlencoded before encoding.
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if "\0" in client_id:  # no client has one, and PostgreSQL cannot even compare it
        raise refused
    if form.get("client_id", client_id) != client_id:
        raise InvalidRequest("client_id differs from the authenticated client.")
    client = await _known(session, client_id, basic=True)
    if client.auth_method != "client_secret_basic" or client.secret_hash is None:
        raise refused
    if not hmac.compare_digest(_hash_secret(secret), client.secret_hash):
        raise refused
    return client


async def _public(session: AsyncSession, form: Mapping[str, str]) -> Client:
    client_id = form.get("client_id")
    if not client_id:
        raise InvalidClient("Authenticate the client, or send client_id for a public client.")
    client = await _known(session, client_id)
    if client.auth_method != "none":
        raise InvalidClient("This client must authenticate.")
    return client


async def _private_key_jwt(session: AsyncSession, redis: Redis, form: Mapping[str, str]) -> Client:
    if form.get("client_assertion_type") != JWT_BEARER or not form.get("client_assertion"):
        raise InvalidClient("client_assertion_type must be the RFC 7523 JWT bearer type.")
    assertion = form["client_assertion"]
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise InvalidClient("The client assertion is not a JWT.") from None
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or form.get("client_id", client_id) != client_id:
        raise InvalidClient("The client assertion names no client.")
    client = await _known(session, client_id)
    if client.auth_method != "private_key_jwt" or not client.jwks:
        raise InvalidClient("This client does not authenticate with private_key_jwt.")
    claims = _verify_assertion(assertion, header, client)
    await _spend_jti(redis, client_id, claims)
    return client


def _verify_assertion(assertion: str, header: dict[str, Any], client: Client) -> dict[str, Any]:
    alg = header.get("alg")
    if alg not in ASSERTION_ALGORITHMS:
        raise InvalidClient("The client assertion's algorithm is not accepted.")
    for key in _candidate_keys(client.jwks or {}, header.get("kid"), alg):
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key.key,
                algorithms=[alg],
                audience=[token_endpoint(), get_settings().issuer],
                issuer=client.client_id,
                # Times are checked against core.clock below, not PyJWT's reading of the system.
                options={
                    "require": ["iss", "sub", "aud", "exp", "jti"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError:
            raise InvalidClient("The client assertion's claims are not valid.") from None
        _check_assertion_claims(claims, client.client_id)
        return claims
    raise InvalidClient("The client assertion is not signed by a registered key.")


def _candidate_keys(jwks: dict[str, Any], kid: object, alg: str) -> list[jwt.PyJWK]:
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except (jwt.PyJWKSetError, jwt.PyJWKError):
        return []
    return [
        key
        for key in keys
        if alg in _KEY_TYPES.get(str(key.key_type), ())
        and (kid is None or key.key_id is None or key.key_id == kid)
        and not _is_private(key)
    ]


def _check_assertion_claims(claims: dict[str, Any], client_id: str) -> None:
    if claims.get("sub") != client_id:
        raise InvalidClient("The client assertion's sub must be the client_id.")
    now = clock.now().timestamp()
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidClient("The client assertion needs a numeric exp.")
    if exp <= now - LEEWAY_SECONDS:
        raise InvalidClient("The client assertion has expired.")
    if exp > now + MAX_ASSERTION_LIFETIME + LEEWAY_SECONDS:
        raise InvalidClient("The client assertion is valid for too long.")
    for name in ("nbf", "iat"):
        value = claims.get(name, now)
        if not isinstance(value, int | float) or value > now + LEEWAY_SECONDS:
            raise InvalidClient(f"The client assertion's {name} is not valid.")
    if not isinstance(claims.get("jti"), str) or not 0 < len(claims["jti"]) <= 256:
        raise InvalidClient("The client assertion needs a jti.")


async def _spend_jti(redis: Redis, client_id: str, claims: dict[str, Any]) -> None:
    """Each assertion is good once: its jti is kept until the assertion would expire."""
    digest = hashlib.sha256(json.dumps([client_id, claims["jti"]]).encode()).hexdigest()
    ttl = max(int(claims["exp"] - clock.now().timestamp()) + LEEWAY_SECONDS, 1)
    if not await redis.set(f"oauth:jti:{digest}", "1", ex=ttl, nx=True):
        raise InvalidClient("The client assertion was already used.")
