"""The rewards catalogue as operators write it, and redemptions and vouchers as shown."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import clock
from points.models import RedemptionStatus
from points.schemas.behaviours import CODE_PATTERN, LocalisedOut, Text, Title

RewardKindName = Literal["gift", "voucher", "service"]
RedemptionStatusName = Literal[
    "awaiting_payment", "issued", "used", "cancelled", "expired", "payment_failed"
]
MERCHANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,63}$"
MAX_STOCK = 10_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RewardIn(_Strict):
    """One reward of the catalogue. `stock` is the number of units on offer at the start."""

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

    rewards: Annotated[list[RewardIn], Field(min_length=1, max_length=1000)]


class RewardPatch(_Strict):
    """What staff change on a live reward: more stock, or switch it on or off."""

    restock: Annotated[int, Field(ge=1, le=MAX_STOCK)] | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.restock is None and self.active is None:
            raise ValueError("give restock, active, or both")
        return self


class RewardOut(BaseModel):
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
    rewards: list[RewardOut]


class RedemptionOut(BaseModel):
    """A redemption as its resident sees it; the voucher code only once issued."""

    id: uuid.UUID
    reward: str
    title: LocalisedOut
    merchant: str
    status: RedemptionStatusName
    points: int
    cash_cents: int
    voucher_code: str | None
    qr_payload: str | None
    expires_at: datetime
    created_at: datetime
    issued_at: datetime | None
    closed_at: datetime | None
    # Points plus cash, awaiting payment: what the app hands to the payment sheet.
    payment_intent_id: str | None = None
    client_secret: str | None = None
    # Not part of the body: whether this answers a replayed Idempotency-Key.
    replayed: bool = Field(default=False, exclude=True)


class RedemptionPage(BaseModel):
    items: list[RedemptionOut]
    next_cursor: str | None


class VoucherView(BaseModel):
    """What a cashier sees of a voucher: what it is for and whether it can be used now —
    never who holds it."""

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
