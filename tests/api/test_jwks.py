"""`GET /.well-known/jwks.json` over HTTP: the current and the previous public key."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from identity import keys


async def test_jwks_serves_the_signing_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    (jwk,) = response.json()["keys"]
    assert {jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert "d" not in jwk


async def test_jwks_after_rotations_lists_current_and_previous(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = (await keys.current_signing_key(session)).kid
    second = await keys.rotate(session)
    shown_once = (await client.get("/.well-known/jwks.json")).json()["keys"]
    third = await keys.rotate(session)
    shown_twice = (await client.get("/.well-known/jwks.json")).json()["keys"]

    assert [jwk["kid"] for jwk in shown_once] == [second, first]
    assert [jwk["kid"] for jwk in shown_twice] == [third, second]
