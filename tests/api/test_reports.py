"""`GET /v1/admin/reports/points` over HTTP: admins only, JSON and CSV, their communities."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from tests.helpers import problem_of
from tests.points.factories import make_award, make_redemption, make_reward
from tests.points_actors import make_resident, make_staff

DAY = datetime(2026, 11, 10, 4, tzinfo=UTC)
RANGE = {"from": "2026-11-01", "to": "2026-11-30"}


async def seed(session: AsyncSession) -> None:
    with clock.frozen(DAY):
        resident = new_id()
        await make_award(session, resident, points_=30)
        await make_award(session, new_id(), behaviour="volunteer-service", points_=20)
        await make_award(session, new_id(), points_=5, community="=tongli")
        await make_redemption(session, resident, await make_reward(session, points_cost=12))


async def test_a_district_admin_gets_every_community_as_json(
    client: AsyncClient, session: AsyncSession
) -> None:
    await seed(session)
    admin = await make_staff(session, "district-admin", [("admin", "*")])

    response = await client.get("/v1/admin/reports/points", params=RANGE, headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["communities"]) == ("2026-11-01", "2026-11-30", None)
    assert body["totals"] == {"issued": 55, "reversed": 0, "redeemed": 12}
    assert body["redemption_rate"] == round(12 / 55, 4)
    assert {(r["category"], r["community"], r["issued"], r["redeemed"]) for r in body["rows"]} == {
        ("green", "songling", 30, 12),
        ("volunteer", "songling", 20, 0),
        ("green", "=tongli", 5, 0),
    }


async def test_csv_is_a_safe_download(client: AsyncClient, session: AsyncSession) -> None:
    await seed(session)
    admin = await make_staff(session, "district-admin", [("admin", "*")])

    response = await client.get(
        "/v1/admin/reports/points", params=RANGE | {"format": "csv"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(row["issued"]) for row in rows) == 55
    assert {row["community"] for row in rows} == {"songling", "'=tongli"}


async def test_a_community_admin_sees_only_their_community(
    client: AsyncClient, session: AsyncSession
) -> None:
    await seed(session)
    admin = await make_staff(session, "songling-admin", [("admin", "songling"), ("awarder", "x")])

    body = (
        await client.get("/v1/admin/reports/points", params=RANGE, headers=admin.headers)
    ).json()

    assert body["communities"] == ["songling"]
    assert body["totals"]["issued"] == 50


async def test_only_admins_get_reports(client: AsyncClient, session: AsyncSession) -> None:
    awarder = await make_staff(session, "awarder", [("awarder", "*")])
    resident = await make_resident(session)

    anonymous = await client.get("/v1/admin/reports/points", params=RANGE)
    not_admin = await client.get("/v1/admin/reports/points", params=RANGE, headers=awarder.headers)
    a_resident = await client.get(
        "/v1/admin/reports/points", params=RANGE, headers=resident.headers
    )

    assert problem_of(anonymous)["status"] == 401
    assert problem_of(not_admin)["status"] == 403
    assert problem_of(a_resident)["status"] == 403


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-11-01"},
        {"from": "2026-11-31", "to": "2026-12-01"},
        {"from": "2026-12-01", "to": "2026-11-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
        RANGE | {"format": "xlsx"},
        # Days whose local midnight has no UTC instant: refused, never a crash (was a 500).
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"from": "9999-12-31", "to": "9999-12-31"},
    ],
)
async def test_invalid_report_queries_are_problems(
    client: AsyncClient, session: AsyncSession, params: dict[str, str]
) -> None:
    admin = await make_staff(session, "district-admin", [("admin", "*")])

    response = await client.get("/v1/admin/reports/points", params=params, headers=admin.headers)

    assert problem_of(response)["status"] == 422
