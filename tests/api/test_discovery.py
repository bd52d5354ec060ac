"""OpenID Connect Discovery: the provider metadata partners configure themselves from."""

from __future__ import annotations

from api import oauth


async def test_the_discovery_document(client, settings):
    response = await client.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    doc = response.json()
    issuer = settings.issuer
    assert doc["issuer"] == issuer
    assert doc["authorization_endpoint"] == f"{issuer}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{issuer}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{issuer}/oauth2/userinfo"
    assert doc["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert doc["revocation_endpoint"] == f"{issuer}/oauth2/revoke"
    assert doc["introspection_endpoint"] == f"{issuer}/oauth2/introspect"
    assert doc["end_session_endpoint"] == f"{issuer}/oauth2/logout"
    assert doc["device_authorization_endpoint"] == f"{issuer}/oauth2/device_authorization"
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["subject_types_supported"] == ["pairwise"]
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
        "client_credentials",
    }
    assert set(doc["grant_types_supported"]) == set(oauth.GRANTS)  # what /token really takes
    assert set(doc["scopes_supported"]) == {
        "openid",
        "profile",
        "phone",
        "real_name",
        "offline_access",
    }
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "private_key_jwt",
        "none",
    }
    assert "ES256" in doc["token_endpoint_auth_signing_alg_values_supported"]
    assert doc["revocation_endpoint_auth_methods_supported"]
    assert doc["introspection_endpoint_auth_methods_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {"sub", "name", "phone_number", "id_number", "acr"} <= set(doc["claims_supported"])
