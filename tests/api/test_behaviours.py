"""`GET /v1/behaviours` over HTTP: public, cached for a minute, filtered by category."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

import points
from core import clock


async def test_the_published_list_is_public(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    with clock.frozen(datetime(2026, 11, 24, 8, tzinfo=UTC)):
        await points.publish_behaviours(
            session,
            document=points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8"),
            published_by="test",
        )
        response = await client.get("/v1/behaviours")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    body = response.json()
    assert body["version"] == 1
    assert body["published_at"].startswith("2026-11-24T08:00:00")
    by_code = {b["code"]: b for b in body["behaviours"]}
    recyclables = by_code["recyclables-exchange"]
    assert recyclables["title"] == {"zh": "可回收物以物换物", "en": "Recyclables exchange"}
    assert recyclables["unit"] == "kg"
    assert recyclables["unit_label"] == {"zh": "公斤", "en": "kg"}
    assert recyclables["points_per_unit"] == 3
    assert recyclables["caps"] == {"day": 60, "week": None, "month": 600, "year": None}
    assert recyclables["certified_by"] == "feed:garbage-sorting"
    assert by_code["blood-donation"]["evidence_required"] is True
    assert by_code["volunteer-service"]["unit_label"] == {"zh": "小时", "en": "hour"}


async def test_filter_by_category(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await points.publish_behaviours(
        session,
        document=points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8"),
        published_by="test",
    )

    response = await client.get("/v1/behaviours", params={"category": "cogovernance"})
    wrong = await client.get("/v1/behaviours", params={"category": "blue"})

    assert response.status_code == 200
    categories = {b["category"] for b in response.json()["behaviours"]}
    assert categories == {"cogovernance"}
    assert wrong.status_code == 422


async def test_no_list_yet_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/behaviours")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:wujiang:problem:no-behaviour-list"


async def test_internal_keys_stay_inside(client: httpx.AsyncClient, session: AsyncSession) -> None:
    document = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    await points.publish_behaviours(session, document=document, published_by="test")

    listed = (await client.get("/v1/behaviours")).json()["behaviours"][0]
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["BehaviourOut"]

    assert "id" not in listed
    assert "version_id" not in listed
    assert "id" not in schema["properties"]
