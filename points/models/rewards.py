"""The rewards catalogue and redemptions (vouchers). A redemption holds the resident's points in
the ledger and a unit of the reward's stock in one transaction; using the voucher posts the hold,
cancelling or expiry voids it and puts the stock back."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import UTCDateTime

configure_metadata(SQLModel.metadata)


class RewardKind(enum.StrEnum):
    GIFT = "gift"
    VOUCHER = "voucher"  # a discount at a merchant
    SERVICE = "service"  # e.g. a haircut at a service point, a free clinic slot


class RedemptionStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  # points held, cash part not yet paid
    ISSUED = "issued"  # the voucher is valid
    USED = "used"  # a cashier consumed it: the held points were posted
    CANCELLED = "cancelled"  # by the resident before use: points released, stock back
    EXPIRED = "expired"  # unused past its validity: points released, stock back
    PAYMENT_FAILED = "payment_failed"  # the cash part failed or was cancelled


class Reward(SQLModel, table=True):
    __tablename__ = "points_reward"
    __table_args__ = (
        CheckConstraint("points_cost >= 0", name="points_cost_not_negative"),
        CheckConstraint("cash_cents >= 0", name="cash_not_negative"),
        CheckConstraint("points_cost > 0 OR cash_cents > 0", name="costs_something"),
        # The guard against overselling: stock_left is decremented conditionally and can never
        # pass below zero, whatever races.
        CheckConstraint("stock_left >= 0 AND stock_left <= stock_total", name="stock"),
    )

    id: uuid.UUID = Field(primary_key=True)
    code: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    title_zh: str = Field(sa_column=Column(String(200), nullable=False))
    title_en: str = Field(sa_column=Column(String(200), nullable=False))
    description_zh: str = Field(sa_column=Column(String(2000), nullable=False))
    description_en: str = Field(sa_column=Column(String(2000), nullable=False))
    points_cost: int = Field(sa_column=Column(Integer, nullable=False))
    # The optional cash part, in fen (分), paid through the payments provider.
    cash_cents: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    stock_total: int = Field(sa_column=Column(Integer, nullable=False))
    stock_left: int = Field(sa_column=Column(Integer, nullable=False))
    # NULL: no limit per resident.
    per_resident_limit: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    valid_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    valid_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # The merchant or service point that honours it; cashiers hold `merchant_cashier` there.
    merchant: str = Field(sa_column=Column(String(64), nullable=False))
    # How long an issued voucher stays valid.
    voucher_valid_days: int = Field(sa_column=Column(Integer, nullable=False))
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class RewardClaim(SQLModel, table=True):
    """How many of a reward one resident holds (not cancelled): bounds the per-resident limit
    with a conditional upsert, as stock bounds the total."""

    __tablename__ = "points_reward_claim"

    reward_id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(primary_key=True)
    count: int = Field(sa_column=Column(Integer, nullable=False))


class Redemption(SQLModel, table=True):
    __tablename__ = "points_redemption"
    __table_args__ = (
        UniqueConstraint("resident_id", "idempotency_key"),
        Index("ix_points_redemption_resident_created", "resident_id", "created_at"),
        Index("ix_points_redemption_status_expires", "status", "expires_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    resident_id: uuid.UUID = Field(nullable=False)
    reward_id: uuid.UUID = Field(nullable=False, index=True)
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    points: int = Field(sa_column=Column(Integer, nullable=False))
    cash_cents: int = Field(sa_column=Column(Integer, nullable=False))
    merchant: str = Field(sa_column=Column(String(64), nullable=False))
    status: str = Field(sa_column=Column(String(24), nullable=False))
    # The ledger hold on the resident's points (none for a cash-only reward).
    hold_id: uuid.UUID | None = Field(default=None, nullable=True)
    # Unguessable (128 bits); set when the voucher is issued.
    voucher_code: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, unique=True)
    )
    payment_intent_id: str | None = Field(
        default=None, sa_column=Column(String(100), nullable=True, unique=True)
    )
    # Until when the voucher (or, awaiting payment, the hold) is good.
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    issued_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    used_by: uuid.UUID | None = Field(default=None, nullable=True)
    closed_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))


class PaymentEvent(SQLModel, table=True):
    """A payments webhook event already handled: a replay changes nothing twice."""

    __tablename__ = "points_payment_event"

    id: str = Field(sa_column=Column(String(100), primary_key=True))
    type: str = Field(sa_column=Column(String(64), nullable=False))
    payment_intent_id: str | None = Field(
        default=None, sa_column=Column(String(100), nullable=True)
    )
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
