"""Access tokens: a round trip, then every refusal the issue lists, each for its own reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core import clock
from core.settings import Settings
from identity import keys
from identity.errors import InvalidToken
from identity.models import Assurance
from identity.tokens import (
    LEEWAY_SECONDS,
    AccessClaims,
    Channel,
    IssuedToken,
    issue_access_token,
    mark_session_revoked,
    revocation_key,
    verify_access_token,
)

AUDIENCE = "wujiang-api"


async def issue(session: AsyncSession, **overrides: Any) -> IssuedToken:
    arguments: dict[str, Any] = {
        "subject": "0190c5b2-0000-7000-8000-000000000001",
        "client_id": "wujiang-app",
        "audience": AUDIENCE,
        "scope": "profile points:read",
        "session_id": uuid.uuid4(),
        "assurance": "real_name",
        "channel": "app",
    }
    return await issue_access_token(session, **(arguments | overrides))


async def verify(session: AsyncSession, redis: Redis, token: str, **kw: Any) -> AccessClaims:
    return await verify_access_token(
        session, token, audience=kw.get("audience", AUDIENCE), redis=redis
    )


async def refused(session: AsyncSession, redis: Redis, token: str, **kw: Any) -> str:
    """The reason verification gives for refusing `token`."""
    with pytest.raises(InvalidToken) as caught:
        await verify(session, redis, token, **kw)
    assert caught.value.status == 401
    assert caught.value.extensions == {"reason": caught.value.reason}
    return caught.value.reason


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


def compact(header: dict[str, Any], payload: dict[str, Any], signature: str = "") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{signature}"


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """A JWS signed with HMAC by hand: PyJWT itself refuses a PEM key as an HMAC secret."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode(), digest[header["alg"]]).digest()
    return f"{signing_input}.{b64(mac)}"


async def signed_by_us(session: AsyncSession, payload: dict[str, Any], **header: Any) -> str:
    """A token over `payload` with our real current signing key: only the claims are wrong."""
    key = await keys.current_signing_key(session)
    headers = {"kid": key.kid, "typ": "at+jwt"} | header
    return jwt.encode(payload, key.private_key, algorithm="ES256", headers=headers)


async def public_pem(session: AsyncSession, kid: str) -> bytes:
    public_key = await keys.verification_key(session, kid)
    assert public_key is not None
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- the round trip --------------------------------------------------------------------------


async def test_issue_then_verify(session: AsyncSession, redis: Redis, settings: Settings) -> None:
    session_id = uuid.uuid4()
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with clock.frozen(at):
        issued = await issue(session, session_id=session_id, channel="kiosk")
        claims = await verify(session, redis, issued.token)
    header, payload = segments(issued.token)

    assert header == {
        "alg": "ES256",
        "kid": (await keys.current_signing_key(session)).kid,
        "typ": "at+jwt",
    }
    assert set(payload) == {
        "iss", "sub", "aud", "client_id", "scope", "iat", "nbf", "exp", "jti", "sid", "acr",
        "channel",
    }  # fmt: skip
    assert issued.expires_at == at + timedelta(seconds=settings.access_token_ttl_seconds)
    assert claims.iss == settings.issuer
    assert claims.sub == "0190c5b2-0000-7000-8000-000000000001"
    assert claims.aud == AUDIENCE
    assert claims.client_id == "wujiang-app"
    assert claims.scopes == {"profile", "points:read"}
    assert claims.sid == session_id
    assert claims.assurance is Assurance.REAL_NAME
    assert payload["acr"] == "real_name"
    assert claims.channel is Channel.KIOSK
    assert claims.jti == issued.jti == payload["jti"]
    assert uuid.UUID(claims.jti).version == 7
    assert (claims.iat, claims.exp) == (at, issued.expires_at)
    assert claims.extra == {}


async def test_extra_claims_travel_but_cannot_replace_registered_ones(
    session: AsyncSession, redis: Redis
) -> None:
    issued = await issue(session, extra={"roles": ["awarder"], "communities": ["c1"]})
    claims = await verify(session, redis, issued.token)

    assert claims.extra == {"roles": ["awarder"], "communities": ["c1"]}
    with pytest.raises(ValueError, match="sub"):
        await issue(session, extra={"sub": "someone-else"})
    with pytest.raises(ValueError, match="Channel"):
        await issue(session, channel="fax")


async def test_verification_needs_no_database_query_once_keys_are_cached(
    session: AsyncSession, redis: Redis, engine: AsyncEngine
) -> None:
    issued = await issue(session)
    await verify(session, redis, issued.token)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for _ in range(5):
            await verify(session, redis, issued.token)
            await issue(session)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert statements == []


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "....", "e30", "not a token at all"])
async def test_malformed(session: AsyncSession, redis: Redis, token: str) -> None:
    assert await refused(session, redis, token) == "malformed"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(session: AsyncSession, redis: Redis, alg: str) -> None:
    header, payload = segments((await issue(session)).token)
    unsigned = compact(header | {"alg": alg}, payload)

    assert await refused(session, redis, unsigned) == "algorithm"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_with_the_public_key_as_secret_is_refused(
    session: AsyncSession, redis: Redis, alg: str
) -> None:
    # The classic key confusion: a verifier that let the token pick HS* would check the HMAC
    # with the "key" it holds for this kid, our public key PEM, which anyone can download.
    header, payload = segments((await issue(session)).token)
    pem = await public_pem(session, header["kid"])
    forged = hmac_signed(header | {"alg": alg}, payload | {"scope": "admin"}, pem)

    assert await refused(session, redis, forged) == "algorithm"


@pytest.mark.parametrize("alg", ["ES384", "RS256", "PS256", "EdDSA", 256])
async def test_other_algorithms_are_refused(session: AsyncSession, redis: Redis, alg: Any) -> None:
    header, payload = segments((await issue(session)).token)
    token = compact(header | {"alg": alg}, payload, "AAAA")

    assert await refused(session, redis, token) == "algorithm"


async def test_unknown_kid(session: AsyncSession, redis: Redis) -> None:
    _, payload = segments((await issue(session)).token)
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(payload, stranger, algorithm="ES256", headers={"kid": "k1", "typ": "at+jwt"})
    no_kid = jwt.encode(payload, stranger, algorithm="ES256", headers={"typ": "at+jwt"})

    assert await refused(session, redis, token) == "unknown-key"
    assert await refused(session, redis, no_kid) == "unknown-key"


async def test_our_kid_with_another_key_fails_the_signature(
    session: AsyncSession, redis: Redis
) -> None:
    header, payload = segments((await issue(session)).token)
    stranger = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(payload, stranger, algorithm="ES256", headers=header)

    assert await refused(session, redis, token) == "signature"


@pytest.mark.parametrize(
    "change",
    [{"scope": "admin"}, {"sub": "someone-else"}, {"exp": 4102444800}, {"acr": "in_person"}],
)
async def test_tampered_payload(
    session: AsyncSession, redis: Redis, change: dict[str, Any]
) -> None:
    token = (await issue(session)).token
    header_segment, _, signature = token.split(".")
    _, payload = segments(token)
    tampered = f"{header_segment}.{b64(json.dumps(payload | change).encode())}.{signature}"

    assert await refused(session, redis, tampered) == "signature"


async def test_wrong_issuer(session: AsyncSession, redis: Redis) -> None:
    _, payload = segments((await issue(session)).token)
    token = await signed_by_us(session, payload | {"iss": "https://elsewhere.example"})

    assert await refused(session, redis, token) == "issuer"


async def test_wrong_audience(session: AsyncSession, redis: Redis) -> None:
    token = (await issue(session, audience="partner:tax-bureau")).token

    assert await refused(session, redis, token) == "audience"
    assert await refused(session, redis, token, audience="partner:other") == "audience"
    assert (await verify(session, redis, token, audience="partner:tax-bureau")).aud


@pytest.mark.parametrize("typ", ["JWT", "at+JWT+x", "", None, 1])
async def test_wrong_type(session: AsyncSession, redis: Redis, typ: Any) -> None:
    _, payload = segments((await issue(session)).token)
    token = await signed_by_us(session, payload, typ=typ)

    assert await refused(session, redis, token) == "type"


async def test_type_as_full_media_type_is_accepted(session: AsyncSession, redis: Redis) -> None:
    _, payload = segments((await issue(session)).token)
    token = await signed_by_us(session, payload, typ="application/AT+JWT")

    assert (await verify(session, redis, token)).sub == payload["sub"]


@pytest.mark.parametrize("missing", ["sid", "jti", "exp", "client_id", "acr", "channel"])
async def test_missing_claim(session: AsyncSession, redis: Redis, missing: str) -> None:
    _, payload = segments((await issue(session)).token)
    del payload[missing]
    token = await signed_by_us(session, payload)

    assert await refused(session, redis, token) == "malformed"


async def test_invalid_claim_values(session: AsyncSession, redis: Redis) -> None:
    _, payload = segments((await issue(session)).token)
    for change in [{"sid": "not-a-uuid"}, {"channel": "fax"}, {"exp": "soon"}, {"acr": "L9"}]:
        token = await signed_by_us(session, payload | change)
        assert await refused(session, redis, token) == "malformed", change


async def test_expiry_with_leeway(session: AsyncSession, redis: Redis, settings: Settings) -> None:
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    lifetime = timedelta(seconds=settings.access_token_ttl_seconds)
    with clock.frozen(at):
        token = (await issue(session)).token
        clock.advance(lifetime + timedelta(seconds=LEEWAY_SECONDS - 1))
        assert await verify(session, redis, token)
        clock.advance(timedelta(seconds=1))
        assert await refused(session, redis, token) == "expired"


async def test_not_yet_valid(session: AsyncSession, redis: Redis) -> None:
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with clock.frozen(at):
        token = (await issue(session)).token
    with clock.frozen(at - timedelta(seconds=LEEWAY_SECONDS)):
        assert await verify(session, redis, token)
    with clock.frozen(at - timedelta(seconds=LEEWAY_SECONDS + 1)):
        assert await refused(session, redis, token) == "not-yet-valid"


async def test_revoked_session(session: AsyncSession, redis: Redis, settings: Settings) -> None:
    revoked, other = uuid.uuid4(), uuid.uuid4()
    token = (await issue(session, session_id=revoked)).token
    other_token = (await issue(session, session_id=other)).token

    await mark_session_revoked(redis, revoked, ttl_seconds=1)

    assert await refused(session, redis, token) == "revoked"
    assert (await verify(session, redis, other_token)).sid == other
    # A too-short TTL is raised: the mark must outlive every token already issued.
    ttl = await redis.ttl(revocation_key(revoked))
    assert ttl >= settings.access_token_ttl_seconds + LEEWAY_SECONDS - 1


async def test_tokens_survive_one_rotation_but_not_two(session: AsyncSession, redis: Redis) -> None:
    before = (await issue(session)).token
    first_kid = segments(before)[0]["kid"]

    second_kid = await keys.rotate(session)
    after = (await issue(session)).token

    assert second_kid != first_kid
    assert segments(after)[0]["kid"] == second_kid
    assert (await verify(session, redis, before)).sub
    assert (await verify(session, redis, after)).sub

    await keys.rotate(session)

    assert await refused(session, redis, before) == "unknown-key"
    assert (await verify(session, redis, after)).sub
