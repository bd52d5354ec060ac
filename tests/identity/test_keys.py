"""Signing keys: created once on demand, stored encrypted, rotated, published as a JWK set."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.settings import get_keyring
from identity import keys
from identity.keys import signing_key_t
from identity.tokens import issue_access_token, verify_access_token

B64URL_32_BYTES = re.compile(r"[A-Za-z0-9_-]{43}")


async def key_rows(session: AsyncSession) -> list[Any]:
    query = select(signing_key_t).order_by(signing_key_t.c.created_at, signing_key_t.c.kid)
    return list((await session.execute(query)).all())


async def test_first_key_is_created_once_under_concurrency(committed_db: Database) -> None:
    async def signing_kid() -> str:
        async with committed_db.unit_of_work() as s:
            return (await keys.current_signing_key(s)).kid

    kids = await asyncio.gather(*(signing_kid() for _ in range(8)))
    keys.forget_cached_keys()  # as another process would: from the database alone
    async with committed_db.unit_of_work() as s:
        rows = await key_rows(s)
        again = (await keys.current_signing_key(s)).kid

    assert len(rows) == 1
    assert set(kids) == {rows[0].kid} == {again}


async def test_private_key_is_stored_encrypted(session: AsyncSession) -> None:
    material = await keys.current_signing_key(session)
    (row,) = await key_rows(session)

    assert row.kid == material.kid
    assert uuid.UUID(row.kid).version == 7
    assert row.algorithm == "ES256"
    assert "PRIVATE KEY" not in row.private_key_token
    assert row.private_key_token.startswith(f"v1.{get_keyring().current_kid}.")
    pem = get_keyring().decrypt(row.private_key_token, context=keys.PRIVATE_KEY_CONTEXT)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    stored = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(stored, ec.EllipticCurvePrivateKey)
    assert stored.private_numbers() == material.private_key.private_numbers()


async def test_jwks_shape(session: AsyncSession) -> None:
    material = await keys.current_signing_key(session)
    jwks = await keys.public_jwks(session)

    (jwk,) = jwks["keys"]
    assert set(jwks) == {"keys"}
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}  # no private "d"
    assert jwk | {"x": "", "y": ""} == {
        "kty": "EC",
        "crv": "P-256",
        "x": "",
        "y": "",
        "kid": material.kid,
        "use": "sig",
        "alg": "ES256",
    }
    assert B64URL_32_BYTES.fullmatch(jwk["x"])
    assert B64URL_32_BYTES.fullmatch(jwk["y"])
    # A standard JWK consumer rebuilds exactly our public key from it.
    public = jwt.PyJWK(jwk).key
    assert public.public_numbers() == material.private_key.public_key().public_numbers()


async def test_rotation_keeps_exactly_the_previous_key(session: AsyncSession) -> None:
    first = (await keys.current_signing_key(session)).kid
    second = await keys.rotate(session)
    after_one = [jwk["kid"] for jwk in (await keys.public_jwks(session))["keys"]]
    third = await keys.rotate(session)
    after_two = [jwk["kid"] for jwk in (await keys.public_jwks(session))["keys"]]
    rows = {row.kid: row for row in await key_rows(session)}

    assert after_one == [second, first]
    assert after_two == [third, second]
    assert (await keys.current_signing_key(session)).kid == third
    assert rows[first].retired_at is not None
    assert rows[second].retired_at is None
    assert rows[third].retired_at is None


async def test_rotate_on_an_empty_table_creates_the_only_key(session: AsyncSession) -> None:
    kid = await keys.rotate(session)

    assert [jwk["kid"] for jwk in (await keys.public_jwks(session))["keys"]] == [kid]


async def test_a_rotation_elsewhere_is_seen_on_an_unknown_kid(
    session: AsyncSession, redis: Redis
) -> None:
    before = await issue_access_token(
        session,
        subject="resident-1",
        client_id="wujiang-app",
        audience="wujiang-api",
        scope="profile",
        session_id=uuid.uuid4(),
        assurance="phone",
        channel="app",
    )
    stale_view = keys._cache.view
    new_kid = await keys.rotate(session)
    keys._cache.view = stale_view  # as if another process rotated: this one has not looked yet

    still_signing = (await keys.current_signing_key(session)).kid
    payload = json.loads(base64.urlsafe_b64decode(before.token.split(".")[1] + "=="))
    signed_elsewhere = jwt.encode(
        payload,
        keys._cache.private[new_kid],
        algorithm="ES256",
        headers={"kid": new_kid, "typ": "at+jwt"},
    )
    claims = await verify_access_token(
        session, signed_elsewhere, audience="wujiang-api", redis=redis
    )

    assert still_signing != new_kid  # within VIEW_TTL the cached view still rules signing
    assert claims.sub == "resident-1"
    assert (await keys.current_signing_key(session)).kid == new_kid  # the view was re-read


async def test_unknown_kids_refresh_the_view_at_most_every_few_seconds(
    session: AsyncSession,
) -> None:
    await keys.current_signing_key(session)
    first = await keys.verification_key(session, "made-up-1")
    view_after_refresh = keys._cache.view
    second = await keys.verification_key(session, "made-up-2")

    assert first is None
    assert second is None
    assert keys._cache.view is view_after_refresh  # not read again: rate-limited
