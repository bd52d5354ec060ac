"""The browser side of the OpenID Connect provider: /oauth2/authorize, sign-in by SMS code and by
QR code approved in the app, consent, and RP-initiated logout."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core import clock
from identity import authorization_codes, keys
from identity.models import Client
from tests.api.residents import PHONE, bearer, last_code, sign_in

pytestmark = pytest.mark.usefixtures("still_clock")

CLIENT_ID = "tongban"
REDIRECT_URI = "https://tongban.example/callback"
LOGOUT_URI = "https://tongban.example/signed-out"


@pytest.fixture
async def partner(session):
    client = Client(
        client_id=CLIENT_ID,
        name="吴江通办",
        redirect_uris=[REDIRECT_URI, "http://localhost:8080/cb?x=1"],
        post_logout_redirect_uris=[LOGOUT_URI],
        allowed_scopes="openid profile phone real_name",
        auth_method="none",
        created_at=clock.now(),
    )
    session.add(client)
    await session.flush()
    return client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_params(**overrides) -> dict:
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def query_of(response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


async def start(client, **overrides):
    return await client.get("/oauth2/authorize", params=authorize_params(**overrides))


async def open_login(client, **overrides) -> str:
    started = await start(client, **overrides)
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith("/oauth2/authorize/login?request=")
    page = await client.get(started.headers["location"])
    assert page.status_code == 200
    return page.text


async def sms_sign_in_on_page(client, gateways, page: str, phone: str = PHONE):
    form = {"request": field(page, "request"), "csrf": field(page, "csrf")}
    sent = await client.post("/oauth2/authorize/sms-code", data={**form, "phone": phone})
    assert sent.status_code == 200, sent.text
    assert "138****5678" in sent.text
    assert phone not in sent.text.replace(f'value="{phone}"', "")
    signed = await client.post(
        "/oauth2/authorize/sms-sign-in",
        data={**form, "phone": phone, "code": last_code(gateways)},
    )
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"].startswith("/oauth2/authorize/consent?request=")
    clock.advance(timedelta(seconds=61))  # the next code for this phone may be sent
    return await client.get(signed.headers["location"])


async def allow(client, consent_page):
    form = {
        "request": field(consent_page.text, "request"),
        "csrf": field(consent_page.text, "csrf"),
    }
    return await client.post("/oauth2/authorize/consent", data={**form, "decision": "allow"})


def assert_error_page(response, status=400):
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def assert_refused(response, error: str, state: str | None = "st-123"):
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    query = query_of(response)
    assert query["error"] == error
    assert query.get("state") == state
    assert query["iss"] == "http://127.0.0.1:8000"
    assert query["error_description"]
    return query


# --- refusals ----------------------------------------------------------------------------------


async def test_unknown_clients_and_unregistered_redirect_uris_get_a_page_not_a_redirect(
    client, partner
):
    unknown = await start(client, client_id="nobody")
    wrong = await start(client, redirect_uri="https://evil.example/callback")
    prefix = await start(client, redirect_uri=REDIRECT_URI + "/more")
    missing = await start(client, redirect_uri=None)

    for response in (unknown, wrong, prefix, missing):
        assert_error_page(response)
        assert "evil.example" not in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"scope": "openid payments"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"request": "eyJ"}, "request_not_supported"),
    ],
)
async def test_refusals_go_back_to_the_registered_redirect_uri(client, partner, overrides, error):
    assert_refused(await start(client, **overrides), error)


async def test_an_existing_query_on_the_redirect_uri_is_kept(client, partner):
    refused = await start(client, redirect_uri="http://localhost:8080/cb?x=1", prompt="none")

    assert refused.headers["location"].startswith("http://localhost:8080/cb?x=1&error=")


@pytest.mark.parametrize(
    "query",
    [
        "client_id=" + "a" * 5000,
        "client_id=tongban&client_id=other&redirect_uri=" + REDIRECT_URI,
        urlencode({**authorize_params(), "state": "x" * 10_000}),
        urlencode(authorize_params()) + "&state=again",
        urlencode({**authorize_params(), "redirect_uri": "https://吴江.example/\u0000回调"}),
        urlencode({**authorize_params(), "client_id": "\U0001f600\u202e"}),
        # A NUL anywhere the client is looked up: a 500 on PostgreSQL before.
        urlencode({**authorize_params(), "client_id": "tongban\u0000"}),
        "&".join(f"p{i}=1" for i in range(200)),
    ],
)
async def test_hostile_inputs_get_a_clean_400_page(client, partner, query):
    response = await client.get("/oauth2/authorize?" + query)

    assert_error_page(response)


# --- SMS sign-in, consent, code ----------------------------------------------------------------


async def test_sms_sign_in_then_consent_redirects_with_a_code_that_redeems(
    client, partner, gateways, redis
):
    verifier, challenge = pkce()
    page = await open_login(client, code_challenge=challenge, scope="openid profile phone")
    assert "吴江通办" in page
    assert "<svg" in page

    consent = await sms_sign_in_on_page(client, gateways, page)
    assert consent.status_code == 200
    assert "姓名" in consent.text
    assert "手机号码" in consent.text
    assert "吴江通办" in consent.text
    assert consent.headers["x-frame-options"] == "DENY"
    assert client.cookies.get("wj_web")

    done = await allow(client, consent)

    assert done.status_code == 302
    query = query_of(done)
    assert query["state"] == "st-123"
    assert query["iss"] == "http://127.0.0.1:8000"
    assert done.headers["location"].startswith(REDIRECT_URI + "?")
    grant = await authorization_codes.redeem(redis, query["code"])
    assert grant is not None
    assert grant.client_id == CLIENT_ID
    assert grant.redirect_uri == REDIRECT_URI
    assert grant.scope == "openid profile phone"
    assert grant.nonce == "n-456"
    assert grant.code_challenge == challenge
    assert grant.acr == "phone"
    assert grant.auth_time == int(clock.now().timestamp()) - 61
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert expected.decode().rstrip("=") == grant.code_challenge
    # The consent page cannot be submitted twice: the request is finished.
    assert_error_page(await allow(client, consent))


async def test_consent_is_remembered_and_prompt_none_then_succeeds(client, partner, gateways):
    await allow(client, await sms_sign_in_on_page(client, gateways, await open_login(client)))

    again = await start(client, state="second")
    silent = await start(client, prompt="none", state="third")

    assert again.status_code == 302
    assert "code" in query_of(again)
    assert query_of(again)["state"] == "second"
    assert silent.status_code == 302
    assert "code" in query_of(silent)


async def test_asking_for_more_than_was_consented_shows_the_page_again(client, partner, gateways):
    await allow(client, await sms_sign_in_on_page(client, gateways, await open_login(client)))

    more = await start(client, scope="openid profile phone")
    none = await start(client, scope="openid profile phone", prompt="none")

    assert more.status_code == 303
    assert "/consent?" in more.headers["location"]
    assert_refused(none, "consent_required")


async def test_deny_returns_access_denied(client, partner, gateways):
    consent = await sms_sign_in_on_page(client, gateways, await open_login(client))
    form = {"request": field(consent.text, "request"), "csrf": field(consent.text, "csrf")}

    denied = await client.post("/oauth2/authorize/consent", data={**form, "decision": "deny"})

    assert_refused(denied, "access_denied")


async def test_prompt_login_forces_signing_in_again(client, partner, gateways):
    await allow(client, await sms_sign_in_on_page(client, gateways, await open_login(client)))

    forced = await start(client, prompt="login")

    assert forced.status_code == 303
    assert forced.headers["location"].startswith("/oauth2/authorize/login?")


async def test_forms_without_the_csrf_token_or_from_another_browser_are_refused(
    client, partner, gateways
):
    page = await open_login(client)
    request_id = field(page, "request")

    missing = await client.post(
        "/oauth2/authorize/sms-code", data={"request": request_id, "phone": PHONE}
    )
    wrong = await client.post(
        "/oauth2/authorize/sms-code",
        data={"request": request_id, "csrf": "forged", "phone": PHONE},
    )
    client.cookies.clear()  # another browser, holding the page's fields but not its cookie
    elsewhere = await client.post(
        "/oauth2/authorize/sms-code",
        data={"request": request_id, "csrf": field(page, "csrf"), "phone": PHONE},
    )

    assert_error_page(missing, 403)
    assert_error_page(wrong, 403)
    assert_error_page(elsewhere, 400)
    assert not gateways.calls  # no code was sent


async def test_a_wrong_sms_code_shows_the_code_page_again(client, partner, gateways):
    page = await open_login(client)
    form = {"request": field(page, "request"), "csrf": field(page, "csrf"), "phone": PHONE}
    await client.post("/oauth2/authorize/sms-code", data=form)
    wrong = "000000" if last_code(gateways) != "000000" else "111111"

    refused = await client.post("/oauth2/authorize/sms-sign-in", data={**form, "code": wrong})

    assert refused.status_code == 400
    assert "验证码" in refused.text
    assert "wj_web" not in client.cookies


async def test_real_name_scope_needs_a_verified_resident(client, partner, gateways):
    page = await open_login(client, scope="openid real_name")

    verify_first = await sms_sign_in_on_page(client, gateways, page)

    assert verify_first.status_code == 200
    assert "实名认证" in verify_first.text
    form = {
        "request": field(verify_first.text, "request"),
        "csrf": field(verify_first.text, "csrf"),
    }
    cancelled = await client.post("/oauth2/authorize/consent", data={**form, "decision": "deny"})
    query = assert_refused(cancelled, "access_denied")
    assert "real name" in query["error_description"]


# --- QR sign-in --------------------------------------------------------------------------------


async def test_qr_sign_in_approved_in_the_app(client, partner, gateways):
    page = await open_login(client)
    ticket = field(page, "ticket")
    assert "<svg" in page
    status = await client.get(f"/oauth2/authorize/qr/{ticket}")
    assert status.json() == {"status": "pending"}
    tokens = await sign_in(client, gateways, phone="13900000002")
    preview = await client.get(f"/v1/me/qr-logins/{ticket}", headers=bearer(tokens))
    assert preview.status_code == 200
    assert preview.json()["status"] == "pending"
    assert preview.json()["client_name"] == "吴江通办"

    approved = await client.post(
        f"/v1/me/qr-logins/{ticket}", json={"approve": True}, headers=bearer(tokens)
    )
    again = await client.post(
        f"/v1/me/qr-logins/{ticket}", json={"approve": True}, headers=bearer(tokens)
    )

    assert approved.status_code == 200, approved.text
    assert approved.json()["client_name"] == "吴江通办"
    assert {c["scope"] for c in approved.json()["claims"]} == {"openid", "profile"}
    assert again.status_code == 409
    assert (await client.get(f"/oauth2/authorize/qr/{ticket}")).json() == {"status": "approved"}
    form = {"request": field(page, "request"), "csrf": field(page, "csrf"), "ticket": ticket}
    continued = await client.post("/oauth2/authorize/qr/continue", data=form)
    assert continued.status_code == 303
    consent = await client.get(continued.headers["location"])
    assert consent.status_code == 200
    assert "同意" in consent.text
    # The approval signs in one browser once.
    assert (await client.post("/oauth2/authorize/qr/continue", data=form)).status_code == 200


async def test_continuing_before_approval_keeps_the_same_qr_code(client, partner):
    page = await open_login(client)
    form = {
        "request": field(page, "request"),
        "csrf": field(page, "csrf"),
        "ticket": field(page, "ticket"),
    }

    early = await client.post("/oauth2/authorize/qr/continue", data=form)

    assert early.status_code == 200
    assert field(early.text, "ticket") == form["ticket"]
    assert "wj_web" not in client.cookies


async def test_qr_tickets_expire_and_unknown_ones_are_not_found(client, partner, gateways):
    page = await open_login(client)
    tokens = await sign_in(client, gateways, phone="13900000002")

    clock.advance(timedelta(minutes=3))
    expired = await client.post(
        f"/v1/me/qr-logins/{field(page, 'ticket')}", json={"approve": True}, headers=bearer(tokens)
    )
    unknown = await client.post(
        f"/v1/me/qr-logins/{'x' * 32}", json={"approve": True}, headers=bearer(tokens)
    )
    anonymous = await client.post(f"/v1/me/qr-logins/{'x' * 32}", json={"approve": True})

    assert expired.status_code == 410
    assert expired.headers["content-type"] == "application/problem+json"
    assert unknown.status_code == 404
    assert anonymous.status_code == 401
    status = await client.get(f"/oauth2/authorize/qr/{field(page, 'ticket')}")
    assert status.json() == {"status": "expired"}


async def test_a_denied_qr_code_does_not_sign_in(client, partner, gateways):
    page = await open_login(client)
    ticket = field(page, "ticket")
    tokens = await sign_in(client, gateways, phone="13900000002")

    denied = await client.post(
        f"/v1/me/qr-logins/{ticket}", json={"approve": False}, headers=bearer(tokens)
    )
    form = {"request": field(page, "request"), "csrf": field(page, "csrf"), "ticket": ticket}
    continued = await client.post("/oauth2/authorize/qr/continue", data=form)

    assert denied.json()["status"] == "denied"
    assert continued.status_code == 200
    assert field(continued.text, "ticket") != ticket  # a fresh QR code
    assert "wj_web" not in client.cookies


# --- logout ------------------------------------------------------------------------------------


async def id_token(session, *, key=None, kid=None, audience=CLIENT_ID) -> str:
    signing = await keys.current_signing_key(session)
    now = int(clock.now().timestamp())
    claims = {
        "iss": "http://127.0.0.1:8000",
        "sub": "someone",
        "aud": audience,
        "iat": now - 7200,
        "exp": now - 3600,  # expired hints are still good hints
    }
    return jwt.encode(
        claims, key or signing.private_key, algorithm="ES256", headers={"kid": kid or signing.kid}
    )


async def test_logout_redirects_to_a_registered_uri_with_state(client, partner, gateways, session):
    await allow(client, await sms_sign_in_on_page(client, gateways, await open_login(client)))
    hint = await id_token(session)

    out = await client.get(
        "/oauth2/logout",
        params={"id_token_hint": hint, "post_logout_redirect_uri": LOGOUT_URI, "state": "bye"},
    )

    assert out.status_code == 302
    assert out.headers["location"] == LOGOUT_URI + "?state=bye"
    assert "wj_web" not in client.cookies
    assert_refused(await start(client, prompt="none"), "login_required")


@pytest.mark.parametrize("case", ["unregistered", "forged", "other-client"])
async def test_logout_never_redirects_to_an_unverified_uri(client, partner, session, case):
    uri = "https://evil.example/" if case == "unregistered" else LOGOUT_URI
    if case == "forged":
        hint = await id_token(session, key=ec.generate_private_key(ec.SECP256R1()))
    else:
        hint = await id_token(session, audience="other" if case == "other-client" else CLIENT_ID)

    out = await client.get(
        "/oauth2/logout",
        params={"id_token_hint": hint, "post_logout_redirect_uri": uri, "state": "bye"},
    )

    assert out.status_code == 200
    assert "location" not in out.headers
    assert "退出" in out.text
