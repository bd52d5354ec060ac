"""The authorization-code grant with PKCE, ID tokens, UserInfo, revocation, introspection and
consent withdrawal, over HTTP. Codes come from identity.authorization_codes.issue, as the
browser flow makes them."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest

from core import clock
from identity import consents, sessions
from tests.identity.factories import make_id_number
from tests.identity.oidc_factories import (
    NAME,
    REDIRECT,
    basic,
    make_client,
    make_code,
    make_resident,
    pkce,
)

ALL = "openid profile phone real_name offline_access"


@pytest.fixture(autouse=True)
def still_clock(redis):
    with clock.frozen(clock.now()):
        yield


@pytest.fixture
async def resident(session):
    return await make_resident(session)


@pytest.fixture
async def partner(session):
    return await make_client(session)


async def exchange(client, partner, code, verifier, *, redirect_uri=REDIRECT, **extra):
    registered, secret = partner
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await client.post(
        "/oauth2/token", data={**form, **extra}, headers=basic(registered.client_id, secret)
    )


async def sign_in(client, redis, partner, resident, scope="openid profile", nonce="n-1"):
    verifier, challenge = pkce()
    code = await make_code(
        redis,
        client_id=partner[0].client_id,
        resident_id=resident.id,
        challenge=challenge,
        scope=scope,
        nonce=nonce,
    )
    response = await exchange(client, partner, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


async def decode_id_token(client, token, audience):
    jwks = (await client.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    issuer = (await client.get("/.well-known/openid-configuration")).json()["issuer"]
    return jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=issuer)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# --- the grant -------------------------------------------------------------------------------


async def test_code_for_tokens_and_a_verifiable_id_token(client, redis, partner, resident):
    body = await sign_in(client, redis, partner, resident, scope=ALL, nonce="abc")

    assert body["token_type"] == "Bearer"
    assert body["scope"] == ALL
    assert body["expires_in"] > 0
    assert body["refresh_token"]
    header = jwt.get_unverified_header(body["id_token"])
    assert header["alg"] == "ES256"
    assert header["typ"] == "JWT"
    claims = await decode_id_token(client, body["id_token"], partner[0].client_id)
    assert claims["nonce"] == "abc"
    assert claims["acr"] == "real_name"
    assert claims["aud"] == partner[0].client_id
    assert claims["sid"]
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert claims["sub"] != str(resident.id)
    assert len(claims["sub"]) == 43


async def test_no_refresh_token_without_offline_access(client, redis, partner, resident):
    body = await sign_in(client, redis, partner, resident, scope="openid profile")
    assert "refresh_token" not in body


async def test_the_subject_is_pairwise(client, redis, session, partner, resident):
    other = await make_client(session)

    first = await sign_in(client, redis, partner, resident)
    again = await sign_in(client, redis, partner, resident)
    elsewhere = await sign_in(client, redis, other, resident)

    sub = (await decode_id_token(client, first["id_token"], partner[0].client_id))["sub"]
    sub_again = (await decode_id_token(client, again["id_token"], partner[0].client_id))["sub"]
    sub_other = (await decode_id_token(client, elsewhere["id_token"], other[0].client_id))["sub"]
    assert sub == sub_again != sub_other
    # The access token and UserInfo use the same pairwise subject, never the resident id.
    assert jwt.decode(first["access_token"], options={"verify_signature": False})["sub"] == sub
    info = await client.get("/oauth2/userinfo", headers=bearer(first["access_token"]))
    assert info.json()["sub"] == sub


async def test_partner_access_tokens_are_refused_by_the_app_api(client, redis, partner, resident):
    body = await sign_in(client, redis, partner, resident)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == sessions.PARTNER_AUDIENCE

    me = await client.get("/v1/me", headers=bearer(body["access_token"]))

    assert me.status_code == 401


async def test_refreshed_partner_tokens_keep_audience_and_subject(client, redis, partner, resident):
    body = await sign_in(client, redis, partner, resident, scope=ALL)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": partner[0].client_id,
    }

    anonymous = await client.post("/oauth2/token", data=form)
    refreshed = await client.post(
        "/oauth2/token", data=form, headers=basic(partner[0].client_id, partner[1])
    )

    assert anonymous.status_code == 401  # a confidential partner authenticates every time
    assert anonymous.json()["error"] == "invalid_client"

    assert refreshed.status_code == 200, refreshed.text
    before = jwt.decode(body["access_token"], options={"verify_signature": False})
    after = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert (after["aud"], after["sub"]) == (before["aud"], before["sub"])


@pytest.mark.parametrize(
    ("verifier", "why"),
    [(None, "missing"), ("x" * 43, "wrong"), ("short", "malformed")],
)
async def test_pkce_is_required_and_checked(client, redis, partner, resident, verifier, why):
    _, challenge = pkce()
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=challenge
    )
    response = await exchange(client, partner, code, verifier)
    assert response.status_code == 400, why
    assert response.json()["error"] == "invalid_grant"


async def test_the_plain_method_cannot_be_slipped_in(client, redis, partner, resident):
    verifier, _ = pkce()
    # A challenge equal to the verifier itself is what `plain` would accept.
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=verifier
    )
    response = await exchange(client, partner, code, verifier, code_challenge_method="plain")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_stored_plain_challenge_is_refused(client, redis, partner, resident):
    verifier, _ = pkce()
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=verifier
    )
    stored = await redis.get(f"oauth:code:{hashlib.sha256(code.encode()).hexdigest()}")
    await redis.set(
        f"oauth:code:{hashlib.sha256(code.encode()).hexdigest()}",
        stored.replace('"S256"', '"plain"'),
        ex=60,
    )
    response = await exchange(client, partner, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_redirect_uri_must_match_exactly(client, redis, partner, resident):
    verifier, challenge = pkce()
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=challenge
    )
    response = await exchange(client, partner, code, verifier, redirect_uri=REDIRECT + "/")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_code_expires_after_a_minute(client, redis, partner, resident):
    _verifier, challenge = pkce()
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=challenge
    )
    assert await redis.ttl(f"oauth:code:{hashlib.sha256(code.encode()).hexdigest()}") <= 60


async def test_a_replayed_code_is_refused_and_revokes_the_first_session(
    client, redis, partner, resident
):
    verifier, challenge = pkce()
    code = await make_code(
        redis,
        client_id=partner[0].client_id,
        resident_id=resident.id,
        challenge=challenge,
        scope=ALL,
    )
    first = await exchange(client, partner, code, verifier)
    assert first.status_code == 200

    replay = await exchange(client, partner, code, verifier)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    info = await client.get("/oauth2/userinfo", headers=bearer(first.json()["access_token"]))
    assert info.status_code == 401
    refreshed = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": partner[0].client_id,
        },
        headers=basic(partner[0].client_id, partner[1]),
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_another_client_cannot_redeem_the_code(client, redis, session, partner, resident):
    thief = await make_client(session)
    verifier, challenge = pkce()
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=challenge
    )
    response = await exchange(client, thief, code, verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_the_grant_needs_client_authentication(client, redis, partner, resident):
    verifier, challenge = pkce()
    code = await make_code(
        redis, client_id=partner[0].client_id, resident_id=resident.id, challenge=challenge
    )
    response = await exchange(client, (partner[0], "wrong-secret"), code, verifier)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a_public_client_redeems_with_pkce_alone(client, redis, session, resident):
    public, _ = await make_client(session, auth_method="none")
    verifier, challenge = pkce()
    code = await make_code(
        redis, client_id=public.client_id, resident_id=resident.id, challenge=challenge
    )
    response = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": public.client_id,
        },
    )
    assert response.status_code == 200, response.text


# --- UserInfo --------------------------------------------------------------------------------


async def userinfo(client, redis, partner, resident, scope):
    body = await sign_in(client, redis, partner, resident, scope=scope)
    response = await client.get("/oauth2/userinfo", headers=bearer(body["access_token"]))
    assert response.status_code == 200, response.text
    return response.json()


async def test_userinfo_releases_claims_by_scope(client, redis, partner, resident):
    bare = await userinfo(client, redis, partner, resident, "openid")
    profile = await userinfo(client, redis, partner, resident, "openid profile")
    phone = await userinfo(client, redis, partner, resident, "openid phone")
    real = await userinfo(client, redis, partner, resident, "openid real_name")

    assert set(bare) == {"sub"}
    assert profile["name"] == NAME
    assert "id_number" not in profile
    assert profile["locale"]
    assert phone["phone_number"] == "+8613812345678"
    assert phone["phone_number_verified"] is True
    assert "name" not in phone
    assert real["id_number"] == make_id_number()
    assert real["real_name_verified"] is True
    assert real["acr"] == "real_name"


async def test_userinfo_withholds_names_below_real_name_assurance(client, redis, session, partner):
    unverified = await make_resident(session, phone="13900001111", verified=False)
    info = await userinfo(client, redis, partner, unverified, "openid profile real_name")
    assert "name" not in info
    assert "id_number" not in info
    assert info["real_name_verified"] is False


async def test_userinfo_refuses_app_tokens_and_garbage(client, session, resident):
    app_tokens = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id="wujiang-app",
        channel="app",
        assurance="real_name",
        scope="openid profile real_name",
    )
    for token in (app_tokens.access_token, "garbage"):
        response = await client.get("/oauth2/userinfo", headers=bearer(token))
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert (await client.get("/oauth2/userinfo")).status_code == 401


# --- revocation and introspection ----------------------------------------------------------


async def introspect(client, partner, token):
    response = await client.post(
        "/oauth2/introspect", data={"token": token}, headers=basic(partner[0].client_id, partner[1])
    )
    assert response.status_code == 200, response.text
    return response.json()


async def revoke(client, partner, token, hint=None):
    form = {"token": token} | ({"token_type_hint": hint} if hint else {})
    return await client.post(
        "/oauth2/revoke", data=form, headers=basic(partner[0].client_id, partner[1])
    )


async def test_introspection_of_live_tokens(client, redis, partner, resident):
    body = await sign_in(client, redis, partner, resident, scope=ALL)

    access = await introspect(client, partner, body["access_token"])
    refresh = await introspect(client, partner, body["refresh_token"])

    claims = await decode_id_token(client, body["id_token"], partner[0].client_id)
    assert access["active"] is True
    assert access["sub"] == claims["sub"]
    assert access["client_id"] == partner[0].client_id
    assert access["scope"] == ALL
    assert access["token_type"] == "Bearer"
    assert access["aud"] == sessions.PARTNER_AUDIENCE
    assert {"exp", "iat", "iss", "jti"} <= set(access)
    assert refresh["active"] is True
    assert refresh["client_id"] == partner[0].client_id
    assert refresh["exp"] > access["exp"]


async def test_another_client_learns_nothing_by_introspection(
    client, redis, session, partner, resident
):
    body = await sign_in(client, redis, partner, resident, scope=ALL)
    other = await make_client(session)

    assert await introspect(client, other, body["access_token"]) == {"active": False}
    assert await introspect(client, other, body["refresh_token"]) == {"active": False}
    # Nor can it revoke them.
    assert (await revoke(client, other, body["access_token"])).status_code == 200
    assert (await introspect(client, partner, body["access_token"]))["active"] is True


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
async def test_revocation_ends_the_session(client, redis, partner, resident, which):
    body = await sign_in(client, redis, partner, resident, scope=ALL)

    response = await revoke(client, partner, body[which], hint=which)

    assert response.status_code == 200
    assert response.content == b""
    assert await introspect(client, partner, body["access_token"]) == {"active": False}
    assert await introspect(client, partner, body["refresh_token"]) == {"active": False}


async def test_revoking_an_unknown_token_is_still_200(client, partner):
    response = await revoke(client, partner, "no-such-token")
    assert response.status_code == 200


# --- consent withdrawal ------------------------------------------------------------------------


async def test_withdrawing_consent_in_the_app_ends_partner_sessions(
    client, redis, session, partner, resident
):
    await consents.grant(
        session,
        resident_id=resident.id,
        client_id=partner[0].client_id,
        scopes=frozenset({"openid", "profile"}),
    )
    body = await sign_in(client, redis, partner, resident)
    app = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id="wujiang-app",
        channel="app",
        assurance="real_name",
        scope="profile",
    )

    listed = await client.get("/v1/me/consents", headers=bearer(app.access_token))
    assert [c["client_id"] for c in listed.json()["items"]] == [partner[0].client_id]
    withdrawn = await client.delete(
        f"/v1/me/consents/{partner[0].client_id}", headers=bearer(app.access_token)
    )

    assert withdrawn.status_code == 204
    info = await client.get("/oauth2/userinfo", headers=bearer(body["access_token"]))
    assert info.status_code == 401
    assert (
        await consents.current(session, resident_id=resident.id, client_id=partner[0].client_id)
        is None
    )
    listed = await client.get("/v1/me/consents", headers=bearer(app.access_token))
    assert listed.json()["items"] == []
    # The app session itself goes on.
    assert (await client.get("/v1/me", headers=bearer(app.access_token))).status_code == 200


async def test_consent_is_regranted_after_withdrawal(session, redis, partner, resident):
    client_id = partner[0].client_id
    await consents.grant(
        session, resident_id=resident.id, client_id=client_id, scopes=frozenset({"openid"})
    )
    await consents.withdraw(session, redis, resident_id=resident.id, client_id=client_id)
    await consents.grant(
        session, resident_id=resident.id, client_id=client_id, scopes=frozenset({"openid", "phone"})
    )
    assert await consents.current(session, resident_id=resident.id, client_id=client_id) == {
        "openid",
        "phone",
    }


async def test_a_resident_cannot_withdraw_what_they_never_granted(client, session, partner):
    stranger = await make_resident(session, phone="13700002222", verified=False)
    app = await sessions.start(
        session,
        subject_type="resident",
        subject=str(stranger.id),
        client_id="wujiang-app",
        channel="app",
        assurance="phone",
        scope="profile",
    )
    response = await client.delete(
        f"/v1/me/consents/{partner[0].client_id}", headers=bearer(app.access_token)
    )
    assert response.status_code == 404
