"""The client credentials grant for feed machines, and the registration rules of their clients."""

from __future__ import annotations

import base64

import pytest

from identity import clients, tokens
from identity.client_credentials import is_machine_token
from identity.errors import InvalidClientMetadata
from identity.sessions import API_AUDIENCE


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def feed_client(session, scopes=("feed:garbage-sorting",), auth_method="client_secret_basic"):
    client, secret = await clients.register(
        session,
        name="绿色存折 sorting machines",
        redirect_uris=[],
        scopes=list(scopes),
        auth_method=auth_method,
        jwks=None,
    )
    return client.client_id, secret


async def token(http, client_id, secret, **form):
    return await http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(client_id, secret),
    )


async def test_a_feed_machine_gets_a_token_for_its_feed_scopes(client, session, redis) -> None:
    client_id, secret = await feed_client(
        session, scopes=("feed:garbage-sorting", "feed:public-bike")
    )

    answer = await token(client, client_id, secret)
    narrow = await token(client, client_id, secret, scope="feed:public-bike")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "feed:garbage-sorting feed:public-bike"
    assert "refresh_token" not in body
    assert answer.headers["cache-control"] == "no-store"
    claims = await tokens.verify_access_token(
        session, body["access_token"], audience=API_AUDIENCE, redis=redis
    )
    assert claims.sub == client_id
    assert claims.client_id == client_id
    assert is_machine_token(claims)
    assert narrow.json()["scope"] == "feed:public-bike"


async def test_refusals_keep_the_oauth_error_body(client, session, redis) -> None:
    client_id, secret = await feed_client(session)

    wrong_secret = await token(client, client_id, "not-the-secret")
    too_much = await token(client, client_id, secret, scope="feed:garbage-sorting feed:other")
    no_auth = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": client_id}
    )

    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    assert "Basic" in wrong_secret.headers["www-authenticate"]
    assert too_much.status_code == 400
    assert too_much.json()["error"] == "invalid_scope"
    assert no_auth.status_code == 401
    assert no_auth.json()["error"] == "invalid_client"


async def test_a_client_id_with_a_nul_character_is_no_client(client, session, redis) -> None:
    """Basic credentials are decoded by the client authentication, which refuses a NUL in
    the id before looking it up (PostgreSQL cannot compare it: it was a 500 there)."""
    client_id, secret = await feed_client(session)

    answer = await token(client, f"{client_id}\u0000", secret)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


async def test_a_partner_without_feed_scopes_may_not_use_the_grant(client, session, redis) -> None:
    partner, secret = await clients.register(
        session,
        name="Health app",
        redirect_uris=["https://health.example/cb"],
        scopes=["openid", "profile"],
        auth_method="client_secret_basic",
        jwks=None,
    )

    answer = await token(client, partner.client_id, secret)

    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("scopes", "auth_method"),
    [
        (["openid", "feed:garbage-sorting"], "client_secret_basic"),  # mixed with a resident's
        (["feed:garbage-sorting"], "none"),  # a public client could not keep a secret
        (["feed:Garbage_Sorting"], "client_secret_basic"),  # not a source name
    ],
)
async def test_feed_scopes_are_for_confidential_machine_clients_only(
    session, scopes, auth_method
) -> None:
    with pytest.raises(InvalidClientMetadata):
        await feed_client(session, scopes=scopes, auth_method=auth_method)


async def test_partners_still_need_a_redirect_uri(session) -> None:
    with pytest.raises(InvalidClientMetadata):
        await clients.register(
            session,
            name="Health app",
            redirect_uris=[],
            scopes=["openid"],
            auth_method="client_secret_basic",
            jwks=None,
        )
