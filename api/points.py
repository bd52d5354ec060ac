"""Residents' points: the summary, the history, and monthly community rankings (opt-in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

import points
from api.deps import Session
from api.pagination import Paging
from api.params import Day
from api.principal import CurrentResident, PointsReader
from api.routing import contract_router
from core.redis import get_redis
from mobile_contract.problems import raises
from points.errors import InvalidPointsQuery
from points.schemas.behaviours import CategoryName
from points.schemas.rankings import (
    COMMUNITY_PATTERN,
    MAX_RANKING_SIZE,
    MONTH_PATTERN,
    RankingChoiceIn,
    RankingChoiceOut,
    RankingOut,
)
from points.schemas.views import HistoryKind, HistoryPage, PointsSummary

router = contract_router(prefix="/v1/me/points", tags=["app"])
rankings_router = contract_router(prefix="/v1/points/rankings", tags=["app"])

CategoryFilter = Annotated[
    CategoryName | None, Query(description="Only movements of this category.")
]


@router.get("", summary="My points")
async def my_points(session: Session, me: PointsReader) -> PointsSummary:
    """Balance in total and per category, what is held for vouchers, and what lapses within
    30 days."""
    return await points.points_summary(session, resident_id=me.resident_id)


@router.get("/history", summary="My points history")
@raises(InvalidPointsQuery)
async def my_points_history(
    session: Session,
    me: PointsReader,
    page: Paging,
    category: CategoryFilter = None,
    kind: Annotated[HistoryKind | None, Query(description="Only this kind of movement.")] = None,
    date_from: Annotated[
        Day | None, Query(alias="from", description="First local day (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        Day | None, Query(alias="to", description="Last local day (YYYY-MM-DD).")
    ] = None,
) -> HistoryPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page (with the same
    filters). `points` is signed: earned and refunded points are positive, redeemed, reversed
    and lapsed ones negative. A cursor this API did not give out, or `from` after `to`, is
    `invalid-points-query`."""
    filters = points.history_filters(
        category=category, kind=kind, date_from=date_from, date_to=date_to
    )
    return await points.points_history(
        session, resident_id=me.resident_id, filters=filters, cursor=page.cursor, limit=page.limit
    )


@router.put("/ranking", summary="Join or leave my community's ranking")
async def set_my_ranking(
    body: RankingChoiceIn, session: Session, me: CurrentResident
) -> RankingChoiceOut:
    """Rankings are opt-in: nobody appears until they join. Setting the same choice again
    changes nothing."""
    return await points.set_ranking_choice(
        session,
        get_redis(),
        resident_id=me.resident_id,
        opt_in=body.opt_in,
        community=body.community,
    )


@rankings_router.get("/{community}", summary="A community's monthly ranking")
@raises(InvalidPointsQuery)
async def community_ranking(
    session: Session,
    me: PointsReader,
    community: Annotated[str, Path(pattern=COMMUNITY_PATTERN)],
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM; default this month.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RANKING_SIZE)] = 20,
) -> RankingOut:
    """The top residents who opted in, masked (no names or phones), and your own place when
    you opted in to this community. A month that is no calendar month (`0000-01`) is
    `invalid-points-query`."""
    return await points.community_ranking(
        session,
        get_redis(),
        community=community,
        month=month,
        viewer=me.resident_id,
        limit=limit,
    )
