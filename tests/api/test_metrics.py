from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY


def requests_seen(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("wujiang_http_requests_total", labels) or 0.0


async def test_metrics_are_exposed_as_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "wujiang_http_requests_total" in response.text
    assert "wujiang_http_request_duration_seconds_bucket" in response.text


async def test_requests_are_counted_by_route_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    @app.get("/test/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    before = requests_seen("GET", "/test/items/{item_id}", 200)

    await client.get("/test/items/1")
    await client.get("/test/items/2")

    assert requests_seen("GET", "/test/items/{item_id}", 200) == before + 2


async def test_a_prefixed_router_is_labelled_with_the_full_template(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    router = APIRouter(prefix="/test/v1/things")

    @router.get("/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app.include_router(router)
    before = requests_seen("GET", "/test/v1/things/{thing_id}", 200)

    await client.get("/test/v1/things/7")

    assert requests_seen("GET", "/test/v1/things/{thing_id}", 200) == before + 1


async def test_unmatched_paths_and_odd_methods_share_labels(client: httpx.AsyncClient) -> None:
    unmatched = requests_seen("GET", "unmatched", 404)
    odd = requests_seen("OTHER", "/healthz", 405)

    await client.get("/random/path/1")
    await client.get("/random/path/2")
    await client.request("BREW", "/healthz")

    assert requests_seen("GET", "unmatched", 404) == unmatched + 2
    assert requests_seen("OTHER", "/healthz", 405) == odd + 1


async def test_latency_is_observed(client: httpx.AsyncClient) -> None:
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    before = REGISTRY.get_sample_value("wujiang_http_request_duration_seconds_count", labels) or 0

    await client.get("/healthz")

    after = REGISTRY.get_sample_value("wujiang_http_request_duration_seconds_count", labels)
    assert after == before + 1
