"""Operators' report of points issued, reversed and redeemed, by day, category and community."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

MAX_REPORT_DAYS = 366
# How redeemed points get their category and community: from the awards whose lots the
# redemption's hold consumed (net of any part given back).
REDEEMED_ATTRIBUTION = "lots"


class ReportRow(BaseModel):
    day: date
    category: str
    community: str
    issued: int = 0
    reversed: int = 0
    redeemed: int = 0


class ReportTotals(BaseModel):
    issued: int = 0
    reversed: int = 0
    redeemed: int = 0


class PointsReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    timezone: str
    # None: every community; otherwise only these.
    communities: list[str] | None
    redeemed_attribution: str = REDEEMED_ATTRIBUTION
    rows: list[ReportRow]
    totals: ReportTotals
    # redeemed / issued over the whole report; None when nothing was issued.
    redemption_rate: float | None
