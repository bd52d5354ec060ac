"""The rewards catalogue and residents' redemptions.

- `GET /v1/rewards`, `GET /v1/rewards/{code}`: public, what can be redeemed now.
- `POST /v1/admin/rewards`, `PATCH /v1/admin/rewards/{code}`: staff holding `admin` district-wide.
- `POST /v1/me/redemptions` (Idempotency-Key), `GET /v1/me/vouchers`,
  `GET /v1/me/redemptions/{id}`, `POST /v1/me/redemptions/{id}/cancel`: the resident's own."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

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
from identity.errors import InsufficientRole
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
    RedemptionNotCancellable,
    RedemptionNotFound,
    RewardNotFound,
    RewardUnavailable,
    SoldOut,
)
from points.schemas.rewards import (
    RedemptionOut,
    RedemptionPage,
    RedemptionStatusName,
    RewardIn,
    RewardList,
    RewardOut,
    RewardPage,
    RewardPatch,
    RewardsIn,
)

router = contract_router(tags=["app"])
admin_router = contract_router(prefix="/v1/admin/rewards", tags=["staff"])


@raises(InsufficientRole)
async def _district_admin(
    staff: Annotated[StaffPrincipal, Depends(require_staff(StaffRole.ADMIN))],
) -> StaffPrincipal:
    staff.check(StaffRole.ADMIN, EVERYWHERE)
    return staff


DistrictAdmin = Annotated[StaffPrincipal, Depends(_district_admin)]
AdminKey = idempotent(_district_admin, required=True)


class RedeemIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reward": "supermarket-10-yuan"}]})

    reward: Annotated[str, Field(min_length=1, max_length=64, description="The reward's code.")]


# --- the public catalogue ----------------------------------------------------------------------


@router.get("/v1/rewards", summary="Rewards that can be redeemed now")
async def list_rewards(session: Session, response: Response, page: Paging) -> RewardPage:
    """Active rewards, inside their validity window, with stock left, by reward code; no
    sign-in needed. Cached for 10 seconds, so `stock_left` may lag a little: the redemption is
    what counts."""
    response.headers["Cache-Control"] = "public, max-age=10"
    return reward_page(await points.list_rewards(session), page)


@router.get("/v1/rewards/{code}", summary="One reward")
@raises(RewardNotFound)
async def get_reward(session: Session, code: str) -> RewardOut:
    """An active reward, sold out (`stock_left` 0) or not yet or no longer in its window (the
    app shows which); a switched-off or unknown code is `reward-not-found`."""
    return await points.get_reward(session, code=code)


# --- staff: managing the catalogue -------------------------------------------------------------


@admin_router.post("", status_code=status.HTTP_201_CREATED, summary="Add rewards")
@raises(InvalidReward)
async def add_rewards(
    session: Session,
    request: Request,
    _: DistrictAdmin,
    _key: Annotated[str, AdminKey],
    # Documented as the shapes it accepts, validated by hand below (SkipValidation): the
    # refusal is `invalid-reward` listing every problem with its path, as from the CLI.
    body: Annotated[
        SkipValidation[RewardIn | list[RewardIn] | RewardsIn],
        Body(
            description="One reward, a list of rewards, or {rewards: [...]} "
            "(fields as in `wujiang rewards add`)."
        ),
    ],
) -> RewardList:
    """Validated strictly (no extra fields, integers as JSON numbers, times with a timezone);
    any problem, or a code that exists already, refuses the whole request with
    `invalid-reward`, whose `errors` list each problem with its `path` (`rewards[1].stock`)
    and `message`. Nothing is added unless everything is."""
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
    """`restock` adds units to both `stock_total` and `stock_left`; `active: false` withdraws
    the reward from the catalogue (vouchers already issued stay valid). A restock is not
    idempotent by itself, so the Idempotency-Key is required: a retry must carry the first
    request's key."""
    return await points.update_reward(session, code=code, patch=patch)


# --- residents: redeeming ----------------------------------------------------------------------


@router.post("/v1/me/redemptions", status_code=status.HTTP_201_CREATED, summary="Redeem a reward")
@raises(
    RewardNotFound,
    RewardUnavailable,
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
    returns the payment's `client_secret`; the voucher comes once the payment succeeds
    (`awaiting_payment` until then; unpaid after 30 minutes, it expires and everything is
    given back).

    Retry with the same Idempotency-Key after a timeout: the first answer comes back.
    `insufficient-points` carries `balance` and `needed`, `redemption-limit-reached` the
    `limit`; `reward-unavailable` means withdrawn or outside its validity window."""
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
    """Newest first, every status unless filtered. The voucher code shows once issued (and
    after use), the QR payload only while the voucher can be used. Pass `next_cursor` back as
    `cursor` for the next page."""
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
    """Poll this after paying a cash part until the status is `issued` (or `payment_failed`).
    Someone else's redemption is `redemption-not-found`."""
    return await points.get_redemption(
        session, resident_id=reader.resident_id, redemption_id=redemption_id
    )


@router.post("/v1/me/redemptions/{redemption_id}/cancel", summary="Cancel an unused voucher")
@raises(RedemptionNotFound, RedemptionNotCancellable)
async def cancel_redemption(
    session: Session,
    resident: CurrentResident,
    redemption_id: uuid.UUID,
    _key: Annotated[str | None, OptionalResidentKey],
) -> RedemptionOut:
    """Points released and the unit back in stock; cancelling again returns it unchanged, so
    a retry is safe. `redemption-not-cancellable` (with `redemption_status`): the voucher was
    used, expired, or has a cash part, which only the merchant can refund."""
    return await points.cancel_redemption(
        session, resident_id=resident.resident_id, redemption_id=redemption_id
    )


def reward_page(catalogue: list[RewardOut], page: PageRequest) -> RewardPage:
    """A page of the catalogue, by reward code (the kiosk's and the TV's too)."""
    return page_of(RewardPage, catalogue, key=lambda r: r.code, kind="w", page=page)
