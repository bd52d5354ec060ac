"""The behaviour-list document operators publish, and what the service returns."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import clock
from identity.models import StaffRole
from points.models import Unit

CODE_PATTERN = r"^[a-z0-9-]{2,64}$"
FEED_PATTERN = re.compile(r"^feed:[a-z0-9-]{2,64}$")
STAFF_ROLES = frozenset(role.value for role in StaffRole)

# What residents read next to the points: 每次 2 分, 每小时 10 分, 每公斤 3 分.
UNIT_LABELS: dict[Unit, tuple[str, str]] = {
    Unit.TIME: ("次", "time"),
    Unit.HOUR: ("小时", "hour"),
    Unit.KG: ("公斤", "kg"),
}

CategoryName = Literal["green", "volunteer", "cogovernance"]
UnitName = Literal["time", "hour", "kg"]
Cap = Annotated[int, Field(gt=0)]


# --- the document --------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Text(_Strict):
    zh: Annotated[str, Field(min_length=1, max_length=2000)]
    en: Annotated[str, Field(min_length=1, max_length=2000)]


class Title(Text):
    zh: Annotated[str, Field(min_length=1, max_length=200)]
    en: Annotated[str, Field(min_length=1, max_length=200)]


class Caps(_Strict):
    """Most points one resident may earn from the behaviour per period; absent: no cap."""

    day: Cap | None = None
    week: Cap | None = None
    month: Cap | None = None
    year: Cap | None = None

    @model_validator(mode="after")
    def _non_decreasing(self) -> Self:
        given = [(name, cap) for name, cap in self.as_pairs() if cap is not None]
        for (shorter, low), (longer, high) in itertools.pairwise(given):
            if high < low:
                raise ValueError(
                    f"the {longer} cap ({high}) is below the {shorter} cap ({low}); "
                    "caps must not decrease from day to year"
                )
        return self

    def as_pairs(self) -> list[tuple[str, int | None]]:
        return [("day", self.day), ("week", self.week), ("month", self.month), ("year", self.year)]


class BehaviourIn(_Strict):
    code: Annotated[str, Field(pattern=CODE_PATTERN)]
    category: CategoryName
    title: Title
    description: Text
    points_per_unit: Annotated[int, Field(gt=0, le=100_000)]
    unit: UnitName
    caps: Caps = Caps()
    certified_by: str
    evidence_required: bool = False
    active_from: datetime | None = None
    active_until: datetime | None = None

    @field_validator("certified_by")
    @classmethod
    def _certifier(cls, value: str) -> str:
        if value in STAFF_ROLES or FEED_PATTERN.match(value):
            return value
        roles = ", ".join(sorted(STAFF_ROLES))
        raise ValueError(f"must be a staff role ({roles}) or feed:<source>, not {value!r}")

    @field_validator("active_from", "active_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a timezone, e.g. 2026-01-01T00:00:00+08:00")
        return value if value is None else clock.in_utc_range(value)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.active_from and self.active_until and self.active_until <= self.active_from:
            raise ValueError("active_until must be later than active_from")
        return self


class BehaviourListIn(_Strict):
    """A whole list as operators write it in YAML."""

    notes: Annotated[str, Field(max_length=2000)] | None = None
    behaviours: Annotated[list[BehaviourIn], Field(min_length=1)]


# --- what the service returns ------------------------------------------------------------------


class LocalisedOut(BaseModel):
    zh: str
    en: str


class CapsOut(BaseModel):
    day: int | None
    week: int | None
    month: int | None
    year: int | None


class BehaviourOut(BaseModel):
    # Internal keys for the award path; never part of what the API shows.
    id: int = Field(exclude=True)
    version_id: int = Field(exclude=True)
    code: str
    category: CategoryName
    title: LocalisedOut
    description: LocalisedOut
    points_per_unit: int
    unit: UnitName
    unit_label: LocalisedOut
    caps: CapsOut
    certified_by: str
    evidence_required: bool
    active_from: datetime | None
    active_until: datetime | None

    def is_active(self, at: datetime) -> bool:
        """Whether the behaviour earns points at `at` (the window's end is exclusive)."""
        started = self.active_from is None or self.active_from <= at
        return started and (self.active_until is None or at < self.active_until)


class VersionOut(BaseModel):
    id: int
    number: int
    published_at: datetime
    published_by: str
    source_sha256: str
    notes: str | None
    behaviour_count: int


class BehaviourListOut(BaseModel):
    version: int
    published_at: datetime
    notes: str | None
    behaviours: list[BehaviourOut]
