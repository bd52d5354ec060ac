"""Behaviour-list tables: each published version of the list, and the behaviours in it.

Versions are append-only: publishing a new list adds a version and never edits an old one, so an
award can always cite the exact rules it was made under."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import BigIntPK, UTCDateTime

configure_metadata(SQLModel.metadata)


class Category(enum.StrEnum):
    """The three sources of points (绿色生活 / 志愿服务 / 社会共治)."""

    GREEN = "green"
    VOLUNTEER = "volunteer"
    COGOVERNANCE = "cogovernance"


class Unit(enum.StrEnum):
    """What one unit of a behaviour is; stable ASCII keys, labels live in the schemas."""

    TIME = "time"  # 次: one occurrence
    HOUR = "hour"
    KG = "kg"


class BehaviourVersion(SQLModel, table=True):
    __tablename__ = "points_behaviour_version"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    number: int = Field(sa_column=Column(Integer, nullable=False, unique=True))
    published_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    published_by: str = Field(sa_column=Column(String(200), nullable=False))
    # Of the YAML text as published: republishing the same text is recognised and ignored.
    source_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    notes: str | None = Field(default=None, sa_column=Column(String(2000), nullable=True))


class Behaviour(SQLModel, table=True):
    __tablename__ = "points_behaviour"
    __table_args__ = (
        # Also serves lookups by version: version_id leads the index.
        UniqueConstraint("version_id", "code"),
        CheckConstraint("points_per_unit > 0", name="points_per_unit_positive"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    version_id: int = Field(
        sa_column=Column(
            BigIntPK,
            ForeignKey("points_behaviour_version.id"),
            nullable=False,
        )
    )
    code: str = Field(sa_column=Column(String(64), nullable=False))
    category: str = Field(sa_column=Column(String(16), nullable=False))
    title_zh: str = Field(sa_column=Column(String(200), nullable=False))
    title_en: str = Field(sa_column=Column(String(200), nullable=False))
    description_zh: str = Field(sa_column=Column(String(2000), nullable=False))
    description_en: str = Field(sa_column=Column(String(2000), nullable=False))
    points_per_unit: int = Field(sa_column=Column(Integer, nullable=False))
    unit: str = Field(sa_column=Column(String(8), nullable=False))
    # Per resident, in points; NULL: no cap over that period.
    cap_day: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    cap_week: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    cap_month: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    cap_year: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # A staff role (identity StaffRole value) or `feed:<source>` for an integration feed.
    certified_by: str = Field(sa_column=Column(String(80), nullable=False))
    evidence_required: bool = Field(sa_column=Column(Boolean, nullable=False))
    active_from: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    active_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
