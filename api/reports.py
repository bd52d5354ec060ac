"""Operators' reports: points issued, reversed and redeemed, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response

import points
from api.deps import Session
from api.params import Day
from api.principal import StaffPrincipal, require_staff
from api.routing import contract_router
from identity.models import StaffRole
from identity.staff import EVERYWHERE
from mobile_contract.problems import raises
from points.errors import InvalidPointsQuery
from points.schemas.reports import PointsReport

router = contract_router(prefix="/v1/admin/reports", tags=["staff"])

Admin = Annotated[StaffPrincipal, Depends(require_staff(StaffRole.ADMIN))]

# `format=csv`: the same rows as the JSON's `rows`, for a spreadsheet (no totals line).
CSV_RESPONSE: dict[str, Any] = {
    "description": "The report: JSON by default, CSV with `format=csv`.",
    "headers": {
        "Content-Disposition": {
            "description": 'With CSV: `attachment; filename="points-<from>-<to>.csv"`.',
            "schema": {"type": "string"},
        }
    },
    "content": {
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "UTF-8, CRLF line ends, a header line, then one line per row of "
                "the JSON report in the same order. Columns: `day` (local date, YYYY-MM-DD), "
                "`category` (green, volunteer, cogovernance, other), `community` (its code, "
                "or unknown), `issued`, `reversed`, `redeemed` (whole points). A text cell "
                "that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or "
                "a carriage return) is prefixed with an apostrophe.",
            },
            "example": "day,category,community,issued,reversed,redeemed\r\n"
            "2026-11-24,cogovernance,tongli,145,0,0\r\n"
            "2026-11-24,green,songling,1280,0,350\r\n"
            "2026-11-24,volunteer,songling,960,20,200\r\n",
        }
    },
}


def _communities(staff: StaffPrincipal) -> frozenset[str] | None:
    """Where the caller is an admin; None when that is everywhere."""
    held = frozenset(c for role, c in staff.roles if role == StaffRole.ADMIN.value)
    return None if EVERYWHERE in held else held


@router.get(
    "/points",
    summary="Points issued and redeemed",
    response_model=PointsReport,
    responses={200: CSV_RESPONSE},
)
@raises(InvalidPointsQuery)
async def points_report(
    session: Session,
    staff: Admin,
    date_from: Annotated[Day, Query(alias="from", description="First local day.")],
    date_to: Annotated[Day, Query(alias="to", description="Last local day, inclusive.")],
    format: Annotated[
        Literal["json", "csv"], Query(description="`csv` answers `text/csv`, for a download.")
    ] = "json",
) -> PointsReport | Response:
    """By local day, category and community; an admin of some communities sees only theirs,
    a district-wide admin (`*`) sees all. At most 366 days, `from` not after `to`
    (`invalid-points-query`). Issued counts posted awards by the day they were made; reversed,
    by the day of the reversal; redeemed, vouchers used, by the day of use, attributed to the
    category and community of the awards whose points were spent."""
    report = await points.points_report(
        session, date_from=date_from, date_to=date_to, communities=_communities(staff)
    )
    if format == "json":
        return report
    filename = f"points-{date_from.isoformat()}-{date_to.isoformat()}.csv"
    return Response(
        points.report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
