"""A partner app signs a resident in with Smart Wujiang, driven end to end by a real OAuth client
library (Authlib's httpx client): authorization code + PKCE S256, ID token checked against the
published JWKS, userinfo, refresh, revocation."""

from __future__ import annotations

import secrets

import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken

from core import clock
from identity import clients
from tests.api.test_authorize import allow, sms_sign_in_on_page

pytestmark = pytest.mark.usefixtures("still_clock")

REDIRECT = "https://tongban.example/callback"
BASE = "http://test"


async def test_a_partner_signs_a_resident_in_with_authlib(app, client, session, gateways):
    registered, secret = await clients.register(
        session,
        name="吴江通办",
        redirect_uris=[REDIRECT],
        scopes=["openid", "profile", "phone", "offline_access"],
        auth_method="client_secret_basic",
        jwks=None,
    )
    partner = AsyncOAuth2Client(
        client_id=registered.client_id,
        client_secret=secret,
        scope="openid phone offline_access",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
    )
    verifier = secrets.token_urlsafe(64)
    url, state = partner.create_authorization_url(
        f"{BASE}/oauth2/authorize", code_verifier=verifier, nonce="nonce-1"
    )

    # The resident's browser: authorize → sign-in page → SMS code → consent → back to the partner.
    started = await client.get(url)
    login = await client.get(started.headers["location"])
    consent = await sms_sign_in_on_page(client, gateways, login.text)
    back = await allow(client, consent)
    assert back.status_code == 302
    assert back.headers["location"].startswith(REDIRECT)

    token = await partner.fetch_token(
        f"{BASE}/oauth2/token",
        authorization_response=back.headers["location"],
        code_verifier=verifier,
        state=state,
    )

    jwks = JsonWebKey.import_key_set((await client.get("/.well-known/jwks.json")).json())
    claims = JsonWebToken(["ES256"]).decode(token["id_token"], jwks)
    claims.validate(now=int(clock.now().timestamp()))  # the test's clock stands still
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["aud"] == registered.client_id
    assert claims["nonce"] == "nonce-1"
    assert (claims["acr"], claims["amr"]) == ("phone", ["sms"])
    assert claims["auth_time"] <= claims["iat"]
    assert "refresh_token" in token

    info = (await partner.get(f"{BASE}/oauth2/userinfo")).json()
    assert info["sub"] == claims["sub"]
    assert info["phone_number"] == "+8613812345678"

    refreshed = await partner.refresh_token(f"{BASE}/oauth2/token")
    assert refreshed["access_token"] != token["access_token"]

    revoked = await partner.revoke_token(f"{BASE}/oauth2/revoke", token=refreshed["refresh_token"])
    assert revoked.status_code == 200
    after = await partner.get(f"{BASE}/oauth2/userinfo")
    assert after.status_code == 401
    await partner.aclose()


async def test_authlib_without_pkce_is_refused(app, client, session):
    registered, secret = await clients.register(
        session,
        name="旧系统",
        redirect_uris=[REDIRECT],
        scopes=["openid"],
        auth_method="client_secret_basic",
        jwks=None,
    )
    partner = AsyncOAuth2Client(
        client_id=registered.client_id,
        client_secret=secret,
        scope="openid",
        redirect_uri=REDIRECT,
    )
    url, _ = partner.create_authorization_url(f"{BASE}/oauth2/authorize")

    refused = await client.get(url)

    assert refused.status_code == 302
    assert "error=invalid_request" in refused.headers["location"]
    await partner.aclose()
