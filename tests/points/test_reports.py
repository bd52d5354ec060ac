"""The operators' report: sums equal the awards made, local days, attribution by lots, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from cli.main import app
from core import clock
from core.ids import new_id
from points.errors import InvalidPointsQuery
from points.models import RedemptionStatus
from points.schemas.reports import PointsReport, ReportRow, ReportTotals
from points.service import reports
from tests.points.factories import (
    committed,
    make_award,
    make_redemption,
    make_reward,
    reverse_award,
)

runner = CliRunner()

DAY1 = datetime(2026, 11, 10, 4, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


async def test_report_sums_equal_the_awards_made(session: AsyncSession) -> None:
    alice, bob = new_id(), new_id()
    made = []
    with clock.frozen(DAY1):
        made.append(await make_award(session, alice, points_=40, expires_at=DAY1 + timedelta(5)))
        made.append(await make_award(session, bob, behaviour="volunteer-service", points_=20))
        made.append(await make_award(session, bob, points_=7, community="tongli"))
    with clock.frozen(DAY2):
        made.append(await make_award(session, alice, points_=15))
        await reverse_award(session, made[2], 2)
        reward = await make_reward(session, points_cost=45)
        await make_redemption(session, alice, reward)  # 40 from the 1st lot, 5 from the 4th
        cheap = await make_reward(session, points_cost=10)
        await make_redemption(session, bob, cheap, status=RedemptionStatus.CANCELLED)
        report = await reports.points_report(
            session, date_from=date(2026, 11, 10), date_to=date(2026, 11, 11)
        )

    assert report.totals.issued == sum(a.points for a in made) == 82
    assert (report.totals.reversed, report.totals.redeemed) == (2, 45)
    assert report.redemption_rate == round(45 / 82, 4)
    rows = {
        (r.day.day, r.category, r.community): (r.issued, r.reversed, r.redeemed)
        for r in report.rows
    }
    assert rows == {
        (10, "green", "songling"): (40, 0, 0),
        (10, "green", "tongli"): (7, 0, 0),
        (10, "volunteer", "songling"): (20, 0, 0),
        (11, "green", "songling"): (15, 0, 45),
        (11, "green", "tongli"): (0, 2, 0),
    }


async def test_a_community_admin_sees_only_their_communities(session: AsyncSession) -> None:
    with clock.frozen(DAY1):
        await make_award(session, new_id(), points_=3)
        await make_award(session, new_id(), points_=4, community="tongli")
        report = await reports.points_report(
            session,
            date_from=date(2026, 11, 10),
            date_to=date(2026, 11, 10),
            communities={"tongli"},
        )

    assert [(r.community, r.issued) for r in report.rows] == [("tongli", 4)]
    assert report.communities == ["tongli"]


async def test_nothing_issued_has_no_rate(session: AsyncSession) -> None:
    report = await reports.points_report(
        session, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31)
    )
    assert (report.rows, report.redemption_rate) == ([], None)


async def test_ranges_backwards_or_too_long_are_refused(session: AsyncSession) -> None:
    with pytest.raises(InvalidPointsQuery):
        await reports.points_report(session, date_from=date(2026, 2, 1), date_to=date(2026, 1, 1))
    with pytest.raises(InvalidPointsQuery):
        await reports.points_report(session, date_from=date(2025, 1, 1), date_to=date(2026, 1, 2))


def test_csv_has_a_header_and_defuses_formulas() -> None:
    report = PointsReport(
        from_=date(2026, 11, 10),
        to=date(2026, 11, 10),
        timezone="Asia/Shanghai",
        communities=None,
        rows=[ReportRow(day=date(2026, 11, 10), category="green", community="=cmd|x", issued=3)],
        totals=ReportTotals(issued=3),
        redemption_rate=0.0,
    )
    parsed = list(csv.reader(io.StringIO(reports.report_csv(report))))

    assert parsed == [
        ["day", "category", "community", "issued", "reversed", "redeemed"],
        ["2026-11-10", "green", "'=cmd|x", "3", "0", "0"],
    ]


def test_cli_report_as_csv_json_and_table(migrated_database: str) -> None:
    async def seed(session: AsyncSession) -> None:
        with clock.frozen(DAY1):
            await make_award(session, new_id(), points_=6)
            await make_award(session, new_id(), points_=4, community="tongli")

    committed(seed)
    period = ["--from", "2026-11-10", "--to", "2026-11-10"]
    as_csv = runner.invoke(app, ["points", "report", *period, "--format", "csv"])
    as_json = runner.invoke(app, ["points", "report", *period, "--format", "json"])
    as_table = runner.invoke(app, ["points", "report", *period])
    backwards = runner.invoke(
        app, ["points", "report", "--from", "2026-11-11", "--to", "2026-11-10"]
    )

    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output.splitlines() == [
        "day,category,community,issued,reversed,redeemed",
        "2026-11-10,green,songling,6,0,0",
        "2026-11-10,green,tongli,4,0,0",
    ]
    assert json.loads(as_json.output)["totals"] == {"issued": 10, "reversed": 0, "redeemed": 0}
    assert "issued 10, reversed 0, redeemed 0; redemption rate 0.00%" in as_table.output
    assert backwards.exit_code == 2
