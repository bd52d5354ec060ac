from __future__ import annotations

import uuid

import httpx
import pytest
import structlog
from fastapi import FastAPI
from structlog.testing import capture_logs


async def test_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    request_id = response.headers["x-request-id"]
    assert uuid.UUID(request_id).version == 7


async def test_sane_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.92_x"})

    assert response.headers["x-request-id"] == "lb-7f3a.92_x"


@pytest.mark.parametrize(
    "hostile",
    ["a" * 65, "evil id", "x\tinjected=1", "<script>", "%0d%0a", "id;drop", "", "中文"],
)
async def test_hostile_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, hostile: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": hostile.encode()})

    echoed = response.headers["x-request-id"]
    assert echoed != hostile
    assert uuid.UUID(echoed).version == 7


async def test_one_log_line_per_request_without_query_string(client: httpx.AsyncClient) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = await client.get("/healthz?phone=13800138000", headers={"X-Request-ID": "r-1"})

    [line] = [entry for entry in logs if entry["event"] == "http.request"]
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["route"] == "/healthz"
    assert line["status"] == response.status_code == 200
    assert line["duration_ms"] >= 0
    assert line["request_id"] == "r-1"
    assert "13800138000" not in repr(logs)


async def test_request_id_is_bound_for_logs_inside_the_handler(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    @app.get("/test/logs")
    async def logs_something() -> None:
        structlog.get_logger().info("test.inside")

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await client.get("/test/logs", headers={"X-Request-ID": "r-2"})

    [inside] = [entry for entry in logs if entry["event"] == "test.inside"]
    assert inside["request_id"] == "r-2"
    assert structlog.contextvars.get_contextvars().get("request_id") is None
