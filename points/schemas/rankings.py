"""Monthly rankings per community: opting in, and what a ranking shows (masked, never names)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

COMMUNITY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
RankingCommunity = Annotated[str, Field(pattern=COMMUNITY_PATTERN, examples=["songling"])]
MAX_RANKING_SIZE = 100


class RankingChoiceIn(BaseModel):
    opt_in: bool
    community: RankingCommunity


class RankingChoiceOut(BaseModel):
    opt_in: bool
    community: str | None
    updated_at: datetime
    # This month's points as ranked (opted in), else None.
    month: str
    points: int | None = None


class RankingEntry(BaseModel):
    rank: int
    # `居民 ****1a2b`: the last four hex digits of the resident id, nothing personal.
    display_name: str
    points: int
    me: bool = False


class MyRank(BaseModel):
    rank: int
    points: int


class RankingOut(BaseModel):
    community: str
    month: str
    entries: list[RankingEntry]
    # The caller's own place, when they are opted in to this community's ranking.
    me: MyRank | None = None


class RebuildResult(BaseModel):
    month: str
    communities: int
    residents: int
