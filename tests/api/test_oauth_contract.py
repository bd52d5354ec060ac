"""What the contract says of the OAuth endpoints' hand-read input, and that saying it changed
nothing: client authentication stays optional and keeps RFC 6749's refusals."""

from __future__ import annotations

import pytest

from api import oauth
from api.app import create_app
from identity import clients

CLIENT_AUTHENTICATED = ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"]
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def doc(settings):
    return create_app(settings).openapi()


@pytest.mark.parametrize("path", CLIENT_AUTHENTICATED)
def test_client_authentication_is_documented_and_optional(doc, path):
    operation = doc["paths"][path]["post"]

    assert operation["security"] == [{"ClientSecretBasic": []}, {}]
    assert doc["components"]["securitySchemes"]["ClientSecretBasic"]["scheme"] == "basic"
    form = operation["requestBody"]["content"][FORM]["schema"]
    assert {"client_id", "client_assertion_type", "client_assertion"} <= set(form["properties"])
    assert form["properties"]["client_assertion_type"]["const"] == clients.JWT_BEARER


def test_the_token_form_names_exactly_the_grants_it_takes(doc):
    form = doc["paths"]["/oauth2/token"]["post"]["requestBody"]["content"][FORM]["schema"]

    assert form["required"] == ["grant_type"]
    assert form["properties"]["grant_type"]["enum"] == list(oauth.GRANTS)


@pytest.mark.parametrize("path", CLIENT_AUTHENTICATED)
async def test_a_malformed_basic_header_is_still_an_oauth_invalid_client(client, path):
    response = await client.post(
        path,
        data={"grant_type": "client_credentials", "token": "x"},
        headers={"Authorization": "Basic not*base64"},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="wujiang"'
