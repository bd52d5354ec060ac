"""Monthly rankings per community: opting in, and what a ranking shows (masked, never names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

COMMUNITY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
RankingCommunity = Annotated[str, Field(pattern=COMMUNITY_PATTERN, examples=["songling"])]
MAX_RANKING_SIZE = 100


class RankingChoiceIn(BaseModel):
    """Join (`opt_in: true`) or leave the monthly ranking of a community."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"opt_in": True, "community": "songling"}]}
    )

    opt_in: StrictBool
    community: RankingCommunity


class RankingChoiceOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "opt_in": True,
                    "community": "songling",
                    "updated_at": "2026-11-25T02:03:00Z",
                    "month": "2026-11",
                    "points": 260,
                }
            ]
        }
    )

    opt_in: bool
    community: str | None
    updated_at: datetime
    # This month's points as ranked (opted in), else None.
    month: str
    points: int | None = None


class RankingEntry(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rank": 2, "display_name": "居民 ****d58e", "points": 260, "me": True}]
        }
    )

    rank: int
    # `居民 ****1a2b`: the last four hex digits of the resident id, nothing personal.
    display_name: str = Field(description="`居民 ****` and 4 hex digits: never a name or phone.")
    points: int
    me: bool = Field(default=False, description="This entry is the caller.")


class MyRank(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rank": 2, "points": 260}]})

    rank: int
    points: int


class RankingOut(BaseModel):
    """A community's ranking for a month: residents with equal points share a rank (1, 2, 2,
    4), and only those who opted in appear."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "community": "songling",
                    "month": "2026-11",
                    "entries": [
                        {"rank": 1, "display_name": "居民 ****f26e", "points": 320, "me": False},
                        {"rank": 2, "display_name": "居民 ****d58e", "points": 260, "me": True},
                        {"rank": 2, "display_name": "居民 ****52c0", "points": 260, "me": False},
                        {"rank": 4, "display_name": "居民 ****257e", "points": 185, "me": False},
                    ],
                    "me": {"rank": 2, "points": 260},
                }
            ]
        }
    )

    community: str
    month: str
    entries: list[RankingEntry]
    # The caller's own place, when they are opted in to this community's ranking.
    me: MyRank | None = None


class RebuildResult(BaseModel):
    month: str
    communities: int
    residents: int
