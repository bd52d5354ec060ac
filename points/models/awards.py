"""Awards and the counters that bound them: caps per resident, budgets per staff member, and the
fraud signals raised for review. Each award cites the behaviour row (so the list version) it was
made under and, once posted, the ledger entry that moved its points."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import BigIntPK, JSONDoc, UTCDateTime

configure_metadata(SQLModel.metadata)


class AwardStatus(enum.StrEnum):
    PENDING = "pending"  # above the approval threshold: waits for a second staff member
    POSTED = "posted"  # the points are in the resident's wallet
    REJECTED = "rejected"  # an approver refused it; its caps and budget were given back


class FlagKind(enum.StrEnum):
    REPEAT_PAIR = "repeat_pair"  # one staff member awarding one resident unusually often
    BURST = "burst"  # awards faster than a person could certify them


class Member(SQLModel, table=True):
    """A resident's choices in the programme: their home community and ranking opt-in."""

    __tablename__ = "points_member"

    resident_id: uuid.UUID = Field(primary_key=True)
    community: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Privacy by default: a resident appears in rankings only after opting in.
    ranking_opt_in: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Award(SQLModel, table=True):
    __tablename__ = "points_award"
    __table_args__ = (
        # Idempotency: a retried request from the same issuer replays the first award.
        UniqueConstraint("issued_by", "idempotency_key"),
        # One earning code awards one behaviour once (NULLs, feeds and resident ids, are distinct).
        UniqueConstraint("earn_code_id", "behaviour_code"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("reversed_points >= 0 AND reversed_points <= points", name="reversed"),
        Index("ix_points_award_resident_created", "resident_id", "created_at"),
        Index("ix_points_award_staff_created", "staff_id", "created_at"),
        Index("ix_points_award_status_created", "status", "created_at"),
        Index("ix_points_award_created", "created_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    # `staff:<uuid>` or `feed:<source>`: whose idempotency keys these are.
    issued_by: str = Field(sa_column=Column(String(120), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False))
    # Of the request's content: the same key with different content is a conflict.
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    resident_id: uuid.UUID = Field(nullable=False)
    staff_id: uuid.UUID | None = Field(default=None, nullable=True)
    behaviour_id: int = Field(
        sa_column=Column(BigIntPK, ForeignKey("points_behaviour.id"), nullable=False)
    )
    behaviour_code: str = Field(sa_column=Column(String(64), nullable=False))
    category: str = Field(sa_column=Column(String(16), nullable=False))
    community: str = Field(sa_column=Column(String(64), nullable=False))
    # In thousandths of the behaviour's unit: 2.5 kg is 2500.
    quantity_milli: int = Field(sa_column=Column(BigInteger, nullable=False))
    points: int = Field(sa_column=Column(Integer, nullable=False))
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONDoc, nullable=True))
    earn_code_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    # When the behaviour happened (caps count by it) and when its points lapse.
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    entry_id: uuid.UUID | None = Field(default=None, nullable=True, unique=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    decided_by: uuid.UUID | None = Field(default=None, nullable=True)
    decision_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    reversed_points: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    reversal_entry_id: uuid.UUID | None = Field(default=None, nullable=True)
    reversed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reversed_by: uuid.UUID | None = Field(default=None, nullable=True)
    reversal_reason: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))


class CapUsage(SQLModel, table=True):
    """Points a resident has been awarded for one behaviour in one period (`d2026-11-25`,
    `w2026-48`, `m2026-11`, `y2026`, Asia/Shanghai). Raised by a conditional upsert that
    refuses to pass the cap, so concurrent awards cannot overshoot it together."""

    __tablename__ = "points_cap_usage"

    resident_id: uuid.UUID = Field(primary_key=True)
    behaviour_code: str = Field(sa_column=Column(String(64), primary_key=True))
    period: str = Field(sa_column=Column(String(16), primary_key=True))
    points: int = Field(sa_column=Column(Integer, nullable=False))


class StaffBudgetUsage(SQLModel, table=True):
    """Points a staff member has awarded on one day (Asia/Shanghai), against their budget."""

    __tablename__ = "points_staff_budget_usage"

    staff_id: uuid.UUID = Field(primary_key=True)
    spent_on: date = Field(sa_column=Column(Date, primary_key=True))
    points: int = Field(sa_column=Column(Integer, nullable=False))


class Flag(SQLModel, table=True):
    """A fraud signal raised by an award, for an approver to review."""

    __tablename__ = "points_flag"
    __table_args__ = (
        UniqueConstraint("kind", "award_id"),
        Index("ix_points_flag_reviewed_created", "reviewed_at", "created_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    award_id: uuid.UUID = Field(sa_column=Column(ForeignKey("points_award.id"), nullable=False))
    staff_id: uuid.UUID | None = Field(default=None, nullable=True)
    resident_id: uuid.UUID = Field(nullable=False)
    community: str = Field(sa_column=Column(String(64), nullable=False))
    detail: str = Field(sa_column=Column(String(500), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reviewed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reviewed_by: uuid.UUID | None = Field(default=None, nullable=True)
    review_note: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
