from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from structlog.testing import capture_logs

from core.errors import DomainError
from tests.helpers import problem_of


class Address(BaseModel):
    city: str
    postcode: str


class Signup(BaseModel):
    name: str
    age: int
    address: Address


class AccountFrozen(DomainError):
    type = "account-frozen"
    title = "The account is frozen"
    status = 409


@pytest.fixture
def routes(app: FastAPI) -> FastAPI:
    @app.post("/test/signup")
    async def signup(body: Signup) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/test/frozen")
    async def frozen() -> None:
        raise AccountFrozen("Account 42 is frozen until review.", balance=120, retry_after=30)

    @app.get("/test/clash")
    async def clash() -> None:
        raise AccountFrozen("Frozen.", status="frozen", title="x", balance=1)

    @app.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError("secret-internals: password=hunter2")

    return app


@pytest.fixture
async def lenient_client(routes: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that receives the 500 response instead of re-raising the app's exception."""
    transport = httpx.ASGITransport(app=routes, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.usefixtures("routes")
async def test_validation_error_lists_fields_without_echoing_input(
    client: httpx.AsyncClient,
) -> None:
    body = {"name": "张三", "age": "id 320584199001011234", "address": {"city": 13800138000}}

    response = await client.post("/test/signup", json=body)

    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["type"] == "urn:wujiang:problem:validation-error"
    assert problem["instance"] == "/test/signup"
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"body.age", "body.address.city", "body.address.postcode"}
    assert all(error["message"] and error["type"] for error in problem["errors"])
    assert "320584199001011234" not in response.text
    assert "13800138000" not in response.text


@pytest.mark.usefixtures("routes")
async def test_malformed_json_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/test/signup", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert problem_of(response)["type"] == "urn:wujiang:problem:validation-error"


@pytest.mark.usefixtures("routes")
async def test_a_json_body_that_is_not_utf8_is_a_validation_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/test/signup",
        content=b'{"name": "\xff\xfe"}',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["type"] == "urn:wujiang:problem:validation-error"
    assert problem["errors"] == [
        {"field": "body", "message": "The body is not UTF-8", "type": "json_invalid"}
    ]


@pytest.mark.usefixtures("routes")
async def test_domain_error_renders_its_own_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/test/frozen")

    assert response.status_code == 409
    assert problem_of(response) == {
        "type": "urn:wujiang:problem:account-frozen",
        "title": "The account is frozen",
        "status": 409,
        "detail": "Account 42 is frozen until review.",
        "instance": "/test/frozen",
        "balance": 120,
        "retry_after": 30,
    }


@pytest.mark.usefixtures("routes")
async def test_extensions_named_like_standard_members_never_override_them(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test/clash")

    assert response.status_code == 409
    problem = problem_of(response)
    assert (problem["status"], problem["title"], problem["balance"]) == (
        409,
        "The account is frozen",
        1,
    )


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/thing")

    assert response.status_code == 404
    problem = problem_of(response)
    assert problem["type"] == "urn:wujiang:problem:http-404"
    assert problem["title"] == "Not Found"
    assert problem["instance"] == "/no/such/thing"


async def test_wrong_method_is_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")

    assert response.status_code == 405
    assert problem_of(response)["type"] == "urn:wujiang:problem:http-405"
    assert response.headers["allow"] == "GET"


async def test_unhandled_error_is_500_problem_without_internals(
    lenient_client: httpx.AsyncClient,
) -> None:
    with capture_logs() as logs:
        response = await lenient_client.get("/test/crash")

    assert response.status_code == 500
    problem = problem_of(response)
    assert problem["type"] == "urn:wujiang:problem:internal-error"
    assert problem["instance"] == "/test/crash"
    for leak in ("secret-internals", "hunter2", "Traceback", "RuntimeError"):
        assert leak not in response.text
    assert response.headers["x-request-id"]
    [logged] = [entry for entry in logs if entry["event"] == "http.unhandled_error"]
    assert logged["log_level"] == "error"
    assert logged["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "url", "send", "field"),
    [
        # Each of these was a 500 on PostgreSQL (which stores NUL in no text or JSON column),
        # and was accepted, even stored, on SQLite.
        ("GET", "/v1/rewards/tote%00bag", {}, "path.code"),
        ("GET", "/v1/behaviours?category=green%00", {}, "query.category"),
        (
            "POST",
            "/v1/auth/sessions/password",
            {"json": {"phone": "13812345678", "password": "x", "device_name": "iPhone\u0000"}},
            "body.device_name",
        ),
        (
            "POST",
            "/v1/staff/sessions",
            {
                "json": {
                    "username": "li.wei",
                    "password": "x",
                    "totp_code": "1",
                    "x": [{"\u0000": 1}],
                }
            },
            "body.x.0",  # the object whose key holds it
        ),
    ],
)
async def test_nul_characters_are_refused_wherever_they_come_in(
    client: httpx.AsyncClient, method: str, url: str, send: dict, field: str
) -> None:
    response = await client.request(method, url, **send)

    problem = problem_of(response)
    assert problem["status"] == 422
    assert problem["type"] == "urn:wujiang:problem:validation-error"
    assert [(e["field"], e["type"]) for e in problem["errors"]] == [(field, "nul")]


async def test_a_nul_character_in_an_oauth_form_is_an_invalid_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/oauth2/device_authorization", data={"client_id": "wujiang-tv\u0000"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_text_that_only_spells_a_nul_escape_is_not_refused(
    client: httpx.AsyncClient,
) -> None:
    # JSON "\\u0000" is a backslash and five characters, no NUL: the sign-in goes ahead.
    response = await client.post(
        "/v1/auth/sessions/password",
        json={"phone": "13812345678", "password": "x", "device_name": "\\u0000"},
    )

    assert problem_of(response)["type"] == "urn:wujiang:problem:invalid-credentials"
