"""`GET /v1/behaviours`: the published behaviour list, for anyone — residents should see what
earns points before they sign in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

import points
from api.deps import Session
from api.routing import contract_router
from mobile_contract.problems import raises
from points.errors import NoBehaviourList
from points.schemas.behaviours import CategoryName

router = contract_router(prefix="/v1/behaviours", tags=["app"])

# A new version shows within a minute; the list changes a few times a year.
CACHE_CONTROL = "public, max-age=60"


@router.get("", summary="The behaviour list (正向行为清单)")
@raises(NoBehaviourList)
async def behaviour_list(
    session: Session,
    response: Response,
    category: Annotated[CategoryName | None, Query(description="Only this category.")] = None,
) -> points.BehaviourListOut:
    """The current version of the list, with the behaviours that earn points now: what the app
    shows residents before they sign in. No sign-in needed; cached for a minute. Show `title`,
    `description` and `unit_label` in the resident's language, and the caps per period."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    return await points.current_behaviours(session, category=category)
