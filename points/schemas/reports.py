"""Operators' report of points issued, reversed and redeemed, by day, category and community."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, JsonValue

MAX_REPORT_DAYS = 366
# How redeemed points get their category and community: from the awards whose lots the
# redemption's hold consumed (net of any part given back).
REDEEMED_ATTRIBUTION = "lots"


_ROWS: list[JsonValue] = [
    {
        "day": "2026-11-24",
        "category": "cogovernance",
        "community": "tongli",
        "issued": 145,
        "reversed": 0,
        "redeemed": 0,
    },
    {
        "day": "2026-11-24",
        "category": "green",
        "community": "songling",
        "issued": 1280,
        "reversed": 0,
        "redeemed": 350,
    },
    {
        "day": "2026-11-24",
        "category": "volunteer",
        "community": "songling",
        "issued": 960,
        "reversed": 20,
        "redeemed": 200,
    },
]


class ReportRow(BaseModel):
    """Points issued, reversed and redeemed on one local day, in one category and community.
    `category` is `other` and `community` `unknown` for points no award explains."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ROWS[1]]})

    day: date
    category: str
    community: str
    issued: int = 0
    reversed: int = 0
    redeemed: int = 0


class ReportTotals(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"issued": 2385, "reversed": 20, "redeemed": 550}]}
    )

    issued: int = 0
    reversed: int = 0
    redeemed: int = 0


class PointsReport(BaseModel):
    """Rows ordered by day, category and community; days are local (`timezone`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from": "2026-11-24",
                    "to": "2026-11-24",
                    "timezone": "Asia/Shanghai",
                    "communities": None,
                    "redeemed_attribution": "lots",
                    "rows": _ROWS,
                    "totals": {"issued": 2385, "reversed": 20, "redeemed": 550},
                    "redemption_rate": 0.2306,
                }
            ]
        }
    )

    from_: date = Field(serialization_alias="from")
    to: date
    timezone: str
    # None: every community; otherwise only these.
    communities: list[str] | None = Field(
        description="The communities covered; null: all (a district-wide admin)."
    )
    redeemed_attribution: str = REDEEMED_ATTRIBUTION
    rows: list[ReportRow]
    totals: ReportTotals
    # redeemed / issued over the whole report; None when nothing was issued.
    redemption_rate: float | None
