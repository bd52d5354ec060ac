"""Partner client registration and client authentication (secret, private_key_jwt, none)."""

from __future__ import annotations

import json
import re

import jwt
import pytest
from typer.testing import CliRunner

from cli.main import app as wujiang
from core import clock
from identity import clients
from identity.errors import ClientNotFound, InvalidClientMetadata
from tests.identity.oidc_factories import assertion, basic, ec_key, make_client

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(autouse=True)
def still_clock(redis):
    with clock.frozen(clock.now()):
        yield


async def register(session, **overrides):
    fields = {
        "name": "Partner",
        "redirect_uris": ["https://partner.example/cb"],
        "scopes": ["openid", "profile"],
        "auth_method": "client_secret_basic",
        "jwks": None,
    }
    return await clients.register(session, **{**fields, **overrides})


async def test_a_confidential_client_gets_its_secret_once_and_only_its_hash_is_stored(session):
    client, secret = await register(session)

    assert secret
    assert len(secret) >= 43
    assert client.secret_hash != secret
    assert len(client.secret_hash) == 64
    assert client.redirect_uris == ["https://partner.example/cb"]
    assert (await clients.get_client(session, client.client_id)).name == "Partner"


async def test_public_clients_get_no_secret(session):
    _, secret = await register(session, auth_method="none")
    assert secret is None


@pytest.mark.parametrize(
    "uri",
    [
        "http://partner.example/cb",
        "https://partner.example/cb#frag",
        "/relative/cb",
        "partner.example/cb",
        "javascript:alert(1)",
    ],
)
async def test_bad_redirect_uris_are_refused(session, uri):
    with pytest.raises(InvalidClientMetadata):
        await register(session, redirect_uris=[uri])


@pytest.mark.parametrize("uri", ["http://localhost:8080/cb", "http://127.0.0.1/cb"])
async def test_plain_http_is_allowed_on_the_loopback(session, uri):
    client, _ = await register(session, redirect_uris=[uri])
    assert client.redirect_uris == [uri]


async def test_unsupported_scopes_are_refused(session):
    with pytest.raises(InvalidClientMetadata):
        await register(session, scopes=["openid", "ledger:write"])


async def test_private_key_jwt_needs_a_public_key(session):
    with pytest.raises(InvalidClientMetadata):
        await register(session, auth_method="private_key_jwt", jwks=None)
    with pytest.raises(InvalidClientMetadata):
        await register(session, auth_method="private_key_jwt", jwks={"keys": []})
    _, jwks = ec_key()
    client, secret = await register(session, auth_method="private_key_jwt", jwks=jwks)
    assert secret is None
    assert client.jwks == jwks


async def test_a_disabled_client_is_refused(session):
    client, _ = await register(session)
    client.disabled_at = clock.now()
    await session.flush()
    with pytest.raises(ClientNotFound):
        await clients.get_client(session, client.client_id)


# --- authentication over HTTP (at the introspection endpoint) ---------------------------------


async def introspect(client, headers=None, **form):
    return await client.post(
        "/oauth2/introspect", data={"token": "not-a-token", **form}, headers=headers or {}
    )


async def test_client_secret_basic_right_wrong_and_missing(client, session):
    partner, secret = await make_client(session)

    right = await introspect(client, basic(partner.client_id, secret))
    wrong = await introspect(client, basic(partner.client_id, secret + "x"))
    missing = await introspect(client)
    unknown = await introspect(client, basic("nobody", secret))

    assert right.status_code == 200
    assert right.json() == {"active": False}
    for refused in (wrong, unknown):
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_client"


async def test_a_confidential_client_cannot_pose_as_public(client, session):
    partner, _ = await make_client(session)
    response = await introspect(client, client_id=partner.client_id)
    assert response.status_code == 401


async def test_client_secret_post_is_refused(client, session):
    partner, secret = await make_client(session)
    response = await introspect(client, client_id=partner.client_id, client_secret=secret)
    assert response.status_code == 401


async def test_a_public_client_names_itself(client, session):
    partner, _ = await make_client(session, auth_method="none")
    response = await introspect(client, client_id=partner.client_id)
    assert response.status_code == 200


@pytest.fixture
async def jwt_partner(session):
    private, jwks = ec_key()
    partner, _ = await make_client(session, auth_method="private_key_jwt", jwks=jwks)
    return partner, private


async def with_assertion(client, signed):
    return await introspect(client, client_assertion_type=JWT_BEARER, client_assertion=signed)


async def test_private_key_jwt_with_the_registered_key(client, settings, jwt_partner):
    partner, private = jwt_partner
    for aud in (f"{settings.issuer}/oauth2/token", settings.issuer):
        signed = assertion(private, partner.client_id, aud=aud)
        assert (await with_assertion(client, signed)).status_code == 200


async def test_private_key_jwt_refusals(client, settings, jwt_partner):
    partner, private = jwt_partner
    other, _ = ec_key()
    token_url = f"{settings.issuer}/oauth2/token"
    refused = [
        assertion(other, partner.client_id, aud=token_url),  # wrong key
        assertion(private, partner.client_id, aud=token_url, lifetime=-120),  # expired
        assertion(private, partner.client_id, aud=token_url, lifetime=3600),  # too long
        assertion(private, partner.client_id, aud="https://elsewhere.example/token"),
    ]
    for signed in refused:
        response = await with_assertion(client, signed)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
        assert "WWW-Authenticate" not in response.headers


async def test_a_client_assertion_is_good_once(client, settings, jwt_partner):
    partner, private = jwt_partner
    signed = assertion(private, partner.client_id, aud=f"{settings.issuer}/oauth2/token")

    first = await with_assertion(client, signed)
    replay = await with_assertion(client, signed)

    assert first.status_code == 200
    assert replay.status_code == 401


async def test_an_assertion_type_other_than_jwt_bearer_is_refused(client, settings, jwt_partner):
    partner, private = jwt_partner
    signed = assertion(private, partner.client_id, aud=f"{settings.issuer}/oauth2/token")
    response = await introspect(client, client_assertion_type="saml", client_assertion=signed)
    assert response.status_code == 401


# --- the command line ----------------------------------------------------------------------------


def test_clients_add_prints_the_secret_once_and_list_shows_the_client(migrated_database, tmp_path):
    runner = CliRunner()
    added = runner.invoke(
        wujiang,
        [
            "clients", "add", "--name", "Gov Portal",
            "--redirect-uri", "https://gov.example/cb",
            "--redirect-uri", "http://localhost:3000/cb",
            "--scope", "openid profile", "--auth-method", "client_secret_basic",
        ],
    )  # fmt: skip
    _, jwks = ec_key()
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    keyed = runner.invoke(
        wujiang,
        [
            "clients", "add", "--name", "Tax Bureau", "--redirect-uri", "https://tax.example/cb",
            "--scope", "openid real_name", "--auth-method", "private_key_jwt",
            "--jwks-file", str(jwks_file),
        ],
    )  # fmt: skip
    refused = runner.invoke(
        wujiang,
        ["clients", "add", "--name", "Bad", "--redirect-uri", "http://bad.example/cb",
         "--scope", "openid"],
    )  # fmt: skip
    listed = runner.invoke(wujiang, ["clients", "list"])

    assert added.exit_code == 0, added.output
    assert "client_secret:" in added.output
    assert keyed.exit_code == 0, keyed.output
    assert "client_secret" not in keyed.output
    assert refused.exit_code == 1
    assert "Gov Portal" in listed.output
    assert "Tax Bureau" in listed.output
    assert "private_key_jwt" in listed.output
    secret = re.search(r"client_secret: (\S+)", added.output).group(1)
    assert secret not in listed.output


async def test_a_jwks_holding_a_private_key_is_refused(session):
    private, _ = ec_key()
    leaked = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private))
    with pytest.raises(InvalidClientMetadata):
        await register(session, auth_method="private_key_jwt", jwks={"keys": [leaked]})
