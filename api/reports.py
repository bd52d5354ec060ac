"""Operators' reports: points issued, reversed and redeemed, as JSON or CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Query, Response

import points
from api.deps import Session
from api.principal import StaffPrincipal, require_staff
from api.routing import contract_router
from identity.models import StaffRole
from identity.staff import EVERYWHERE
from mobile_contract.problems import raises
from points.errors import InvalidPointsQuery
from points.schemas.reports import PointsReport

router = contract_router(prefix="/v1/admin/reports", tags=["staff"])

Admin = Annotated[StaffPrincipal, Depends(require_staff(StaffRole.ADMIN))]


def _communities(staff: StaffPrincipal) -> frozenset[str] | None:
    """Where the caller is an admin; None when that is everywhere."""
    held = frozenset(c for role, c in staff.roles if role == StaffRole.ADMIN.value)
    return None if EVERYWHERE in held else held


@router.get("/points", summary="Points issued and redeemed", response_model=PointsReport)
@raises(InvalidPointsQuery)
async def points_report(
    session: Session,
    staff: Admin,
    date_from: Annotated[date, Query(alias="from", description="First local day.")],
    date_to: Annotated[date, Query(alias="to", description="Last local day, inclusive.")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> PointsReport | Response:
    """By local day, category and community; an admin of some communities sees only theirs,
    a district-wide admin (`*`) sees all."""
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
