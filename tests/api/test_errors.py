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
