"""The rewards catalogue as operators write it, and redemptions and vouchers as shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from core import clock
from core.pagination import Page
from points.models import RedemptionStatus
from points.schemas.behaviours import CODE_PATTERN, LocalisedOut, Text, Title

RewardKindName = Literal["gift", "voucher", "service"]
RedemptionStatusName = Literal[
    "awaiting_payment", "issued", "used", "cancelled", "expired", "payment_failed"
]
MERCHANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"
MAX_STOCK = 10_000_000

_VOUCHER_TITLE: dict[str, JsonValue] = {
    "zh": "超市 10 元购物券",
    "en": "10-yuan supermarket voucher",
}
_VOUCHER_DESCRIPTION: dict[str, JsonValue] = {
    "zh": "在松陵社区惠民超市单笔消费满 50 元可用,每张抵扣 10 元。",
    "en": "10 yuan off a purchase of 50 yuan or more at the Songling community supermarket.",
}
_REDEMPTION = "01a22f54-8d00-786a-9b27-e326df4fd5b4"
_VOUCHER_CODE = "841BJYXJK4FR29HECGGTX808QA"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RewardIn(_Strict):
    """One reward of the catalogue. `stock` is the number of units on offer at the start."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "supermarket-10-yuan",
                    "kind": "voucher",
                    "title": _VOUCHER_TITLE,
                    "description": _VOUCHER_DESCRIPTION,
                    "points_cost": 100,
                    "cash_cents": 0,
                    "stock": 500,
                    "per_resident_limit": 2,
                    "valid_from": "2026-10-08T09:00:00+08:00",
                    "valid_until": "2027-01-01T00:00:00+08:00",
                    "merchant": "songling-mart",
                    "voucher_valid_days": 30,
                    "active": True,
                }
            ]
        }
    )

    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    kind: RewardKindName
    title: Title
    description: Text
    points_cost: Annotated[int, Field(ge=0, le=10_000_000)]
    # The cash part in fen (分); paid through the payments provider.
    cash_cents: Annotated[int, Field(ge=0, le=100_000_000)] = 0
    stock: Annotated[int, Field(ge=0, le=MAX_STOCK)]
    per_resident_limit: Annotated[int, Field(ge=1, le=1000)] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    merchant: Annotated[str, Field(pattern=MERCHANT_PATTERN)]
    voucher_valid_days: Annotated[int, Field(ge=1, le=366)] = 30
    active: bool = True

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a timezone, e.g. 2026-01-01T00:00:00+08:00")
        return value if value is None else clock.in_utc_range(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.points_cost == 0 and self.cash_cents == 0:
            raise ValueError("a reward must cost points, cash, or both")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be later than valid_from")
        return self


class RewardsIn(_Strict):
    """A catalogue file: `rewards:` and a list of rewards."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rewards": [
                        {
                            "code": "eco-tote-bag",
                            "kind": "gift",
                            "title": {"zh": "环保帆布袋", "en": "Canvas tote bag"},
                            "description": {
                                "zh": "印有“绿色吴江”字样的帆布购物袋一个,到店领取。",
                                "en": "One canvas shopping bag printed with Green Wujiang, "
                                "collected in the shop.",
                            },
                            "points_cost": 50,
                            "stock": 1000,
                            "merchant": "songling-mart",
                        },
                        {
                            "code": "community-haircut",
                            "kind": "service",
                            "title": {"zh": "社区爱心理发", "en": "Community haircut"},
                            "description": {
                                "zh": "同里社区理发室理发一次,积分加 15 元现金。",
                                "en": "One haircut at the Tongli community barber's, points "
                                "plus 15 yuan.",
                            },
                            "points_cost": 40,
                            "cash_cents": 1500,
                            "stock": 120,
                            "per_resident_limit": 1,
                            "merchant": "tongli-barber",
                            "voucher_valid_days": 14,
                        },
                    ]
                }
            ]
        }
    )

    rewards: Annotated[list[RewardIn], Field(min_length=1, max_length=1000)]


class RewardPatch(_Strict):
    """What staff change on a live reward: more stock, or switch it on or off."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"restock": 200, "active": True}]})

    restock: Annotated[int, Field(ge=1, le=MAX_STOCK)] | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.restock is None and self.active is None:
            raise ValueError("give restock, active, or both")
        return self


class RewardOut(BaseModel):
    """A reward as the catalogue shows it; `cash_cents` is the cash part in fen (分)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "supermarket-10-yuan",
                    "kind": "voucher",
                    "title": _VOUCHER_TITLE,
                    "description": _VOUCHER_DESCRIPTION,
                    "points_cost": 100,
                    "cash_cents": 0,
                    "stock_total": 500,
                    "stock_left": 423,
                    "per_resident_limit": 2,
                    "valid_from": "2026-10-08T01:00:00Z",
                    "valid_until": "2026-12-31T16:00:00Z",
                    "merchant": "songling-mart",
                    "voucher_valid_days": 30,
                    "active": True,
                }
            ]
        }
    )

    id: uuid.UUID = Field(exclude=True)
    code: str
    kind: RewardKindName
    title: LocalisedOut
    description: LocalisedOut
    points_cost: int
    cash_cents: int
    stock_total: int
    stock_left: int
    per_resident_limit: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    merchant: str
    voucher_valid_days: int
    active: bool


class RewardList(BaseModel):
    """Rewards just added by staff."""

    rewards: list[RewardOut]


class RewardPage(Page[RewardOut]):
    """The catalogue, by reward code."""


class RedemptionOut(BaseModel):
    """A redemption as its resident sees it; the voucher code only once issued. While
    `awaiting_payment`, `expires_at` is the payment deadline and `client_secret` (on the
    redeeming answer only) opens the payment sheet; once paid, the voucher is issued."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _REDEMPTION,
                    "reward": "supermarket-10-yuan",
                    "title": _VOUCHER_TITLE,
                    "merchant": "songling-mart",
                    "status": "issued",
                    "points": 100,
                    "cash_cents": 0,
                    "voucher_code": _VOUCHER_CODE,
                    "qr_payload": "wjv1:" + _VOUCHER_CODE,
                    "expires_at": "2026-12-31T02:00:00Z",
                    "created_at": "2026-12-01T02:00:00Z",
                    "issued_at": "2026-12-01T02:00:00Z",
                    "closed_at": None,
                    "payment_intent_id": None,
                    "client_secret": None,
                },
                {
                    "id": "01a22f94-a340-73ea-8df5-419fcbd1f6b9",
                    "reward": "community-haircut",
                    "title": {"zh": "社区爱心理发", "en": "Community haircut"},
                    "merchant": "tongli-barber",
                    "status": "awaiting_payment",
                    "points": 40,
                    "cash_cents": 1500,
                    "voucher_code": None,
                    "qr_payload": None,
                    "expires_at": "2026-12-01T03:40:00Z",
                    "created_at": "2026-12-01T03:10:00Z",
                    "issued_at": None,
                    "closed_at": None,
                    "payment_intent_id": "pi_3QfK2mLwj8Xr4NzA0c1T9bYe",
                    "client_secret": "pi_3QfK2mLwj8Xr4NzA0c1T9bYe_secret_Hn2pV7sQk4WdZ0aLm9Rt",
                },
            ]
        }
    )

    id: uuid.UUID
    reward: str
    title: LocalisedOut
    merchant: str
    status: RedemptionStatusName
    points: int
    cash_cents: int
    voucher_code: str | None = Field(description="26 characters; while `issued` or `used`.")
    qr_payload: str | None = Field(
        description="`wjv1:` and the code, to draw as a QR; while `issued`."
    )
    expires_at: datetime
    created_at: datetime
    issued_at: datetime | None
    closed_at: datetime | None = Field(description="When it was used, cancelled or expired.")
    # Points plus cash, awaiting payment: what the app hands to the payment sheet.
    payment_intent_id: str | None = None
    client_secret: str | None = None
    # Not part of the body: whether this answers a replayed Idempotency-Key.
    replayed: bool = Field(default=False, exclude=True)


class RedemptionPage(Page[RedemptionOut]):
    """The resident's vouchers and redemptions, newest first."""


class VoucherView(BaseModel):
    """What a cashier sees of a voucher: what it is for and whether it can be used now —
    never who holds it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "redemption_id": _REDEMPTION,
                    "reward": "supermarket-10-yuan",
                    "title": _VOUCHER_TITLE,
                    "merchant": "songling-mart",
                    "status": "issued",
                    "usable": True,
                    "points": 100,
                    "cash_cents": 0,
                    "expires_at": "2026-12-31T02:00:00Z",
                    "used_at": None,
                }
            ]
        }
    )

    redemption_id: uuid.UUID
    reward: str
    title: LocalisedOut
    merchant: str
    status: RedemptionStatusName
    usable: bool
    points: int
    cash_cents: int
    expires_at: datetime
    used_at: datetime | None
    replayed: bool = Field(default=False, exclude=True)


def is_open(status: str) -> bool:
    """Whether a redemption still holds points and stock."""
    return status in {RedemptionStatus.ISSUED, RedemptionStatus.AWAITING_PAYMENT}
