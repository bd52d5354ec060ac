"""The rewards catalogue and residents' redemptions.

- `GET /v1/rewards`, `GET /v1/rewards/{code}`: public, what can be redeemed now.
- `POST /v1/admin/rewards`, `PATCH /v1/admin/rewards/{code}`: staff holding `admin` district-wide.
- `POST /v1/me/redemptions` (Idempotency-Key), `GET /v1/me/vouchers`,
  `GET /v1/me/redemptions/{id}`, `POST /v1/me/redemptions/{id}/cancel`: the resident's own."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, Query, Request, Response, status
from pydantic import BaseModel, Field

import points
from api.deps import Session
from api.idempotency import idempotent
from api.pagination import PageRequest, Paging, page_of
from api.principal import (
    CurrentResident,
    OptionalResidentKey,
    PointsReader,
    ResidentKey,
    StaffPrincipal,
    require_staff,
)
from api.routing import contract_router
from identity.models import StaffRole
from identity.staff import EVERYWHERE
from mobile_contract.problems import raises
from points.errors import (
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidReward,
    PaymentProviderError,
    PaymentsUnavailable,
    RedemptionLimitReached,
    RedemptionNotFound,
    RewardNotFound,
    SoldOut,
)
from points.schemas.rewards import (
    RedemptionOut,
    RedemptionPage,
    RedemptionStatusName,
    RewardList,
    RewardOut,
    RewardPage,
    RewardPatch,
)

router = contract_router(tags=["app"])
admin_router = contract_router(prefix="/v1/admin/rewards", tags=["staff"])


async def _district_admin(
    staff: Annotated[StaffPrincipal, Depends(require_staff(StaffRole.ADMIN))],
) -> StaffPrincipal:
    staff.check(StaffRole.ADMIN, EVERYWHERE)
    return staff


DistrictAdmin = Annotated[StaffPrincipal, Depends(_district_admin)]
AdminKey = idempotent(_district_admin, required=True)


class RedeemIn(BaseModel):
    reward: Annotated[str, Field(min_length=1, max_length=64, description="The reward's code.")]


# --- the public catalogue ----------------------------------------------------------------------


@router.get("/v1/rewards", summary="Rewards that can be redeemed now")
async def list_rewards(session: Session, response: Response, page: Paging) -> RewardPage:
    """Active rewards, inside their validity window, with stock left; by reward code."""
    response.headers["Cache-Control"] = "public, max-age=10"
    return reward_page(await points.list_rewards(session), page)


@router.get("/v1/rewards/{code}", summary="One reward")
@raises(RewardNotFound)
async def get_reward(session: Session, code: str) -> RewardOut:
    """An active reward, sold out or not (the app shows which)."""
    return await points.get_reward(session, code=code)


# --- staff: managing the catalogue -------------------------------------------------------------


@admin_router.post("", status_code=status.HTTP_201_CREATED, summary="Add rewards")
@raises(InvalidReward)
async def add_rewards(
    session: Session,
    request: Request,
    _: DistrictAdmin,
    _key: Annotated[str, AdminKey],
    body: Annotated[
        Any,
        Body(
            description="One reward, a list of rewards, or {rewards: [...]} "
            "(fields as in `wujiang rewards add`)."
        ),
    ],
) -> RewardList:
    """Validated strictly; a code that exists already refuses the whole request."""
    rewards = points.parse_rewards_json(await request.body())
    return RewardList(rewards=await points.add_rewards(session, rewards=rewards))


@admin_router.patch("/{code}", summary="Restock or switch a reward on or off")
@raises(RewardNotFound)
async def patch_reward(
    session: Session,
    code: str,
    patch: RewardPatch,
    _: DistrictAdmin,
    _key: Annotated[str, AdminKey],
) -> RewardOut:
    """Restocking adds to the stock, so a retry must carry the first request's key."""
    return await points.update_reward(session, code=code, patch=patch)


# --- residents: redeeming ----------------------------------------------------------------------


@router.post("/v1/me/redemptions", status_code=status.HTTP_201_CREATED, summary="Redeem a reward")
@raises(
    RewardNotFound,
    IdempotencyKeyReused,
    InsufficientPoints,
    RedemptionLimitReached,
    SoldOut,
    PaymentProviderError,
    PaymentsUnavailable,
)
async def redeem(
    session: Session,
    request: Request,
    resident: CurrentResident,
    body: RedeemIn,
    idempotency_key: Annotated[str, ResidentKey],
) -> RedemptionOut:
    """Holds the points and a unit of stock, and issues the voucher — or, with a cash part,
    returns the payment's `client_secret`; the voucher comes once the payment succeeds."""
    return await points.redeem(
        session,
        resident_id=resident.resident_id,
        reward_code=body.reward,
        idempotency_key=idempotency_key,
        settings=request.app.state.settings,
    )


@router.get("/v1/me/vouchers", summary="My vouchers and redemptions")
async def my_vouchers(
    session: Session,
    reader: PointsReader,
    page: Paging,
    status_: Annotated[
        list[RedemptionStatusName] | None, Query(alias="status", description="Only these.")
    ] = None,
) -> RedemptionPage:
    return await points.list_redemptions(
        session,
        resident_id=reader.resident_id,
        statuses=status_,
        cursor=page.cursor,
        limit=page.limit,
    )


@router.get("/v1/me/redemptions/{redemption_id}", summary="One of my redemptions")
@raises(RedemptionNotFound)
async def my_redemption(
    session: Session, reader: PointsReader, redemption_id: uuid.UUID
) -> RedemptionOut:
    return await points.get_redemption(
        session, resident_id=reader.resident_id, redemption_id=redemption_id
    )


@router.post("/v1/me/redemptions/{redemption_id}/cancel", summary="Cancel an unused voucher")
@raises(RedemptionNotFound)
async def cancel_redemption(
    session: Session,
    resident: CurrentResident,
    redemption_id: uuid.UUID,
    _key: Annotated[str | None, OptionalResidentKey],
) -> RedemptionOut:
    """Points released and the unit back in stock; cancelling again returns it unchanged."""
    return await points.cancel_redemption(
        session, resident_id=resident.resident_id, redemption_id=redemption_id
    )


def reward_page(catalogue: list[RewardOut], page: PageRequest) -> RewardPage:
    """A page of the catalogue, by reward code (the kiosk's too)."""
    items, next_cursor = page_of(catalogue, key=lambda r: r.code, kind="w", page=page)
    return RewardPage(items=items, next_cursor=next_cursor)
