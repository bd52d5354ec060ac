"""The behaviour-list document operators publish, and what the service returns."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

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
    """A text in Chinese, which residents read, and in English."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"zh": "助老服务", "en": "Elderly-care visit"}]}
    )

    zh: str
    en: str


class CapsOut(BaseModel):
    """Most points one resident may earn from the behaviour per local day, week (from Monday),
    month and year; null: no cap for that period."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"day": 40, "week": None, "month": 400, "year": None}]}
    )

    day: int | None
    week: int | None
    month: int | None
    year: int | None


_ELDERLY_CARE: dict[str, JsonValue] = {
    "code": "elderly-care-visit",
    "category": "volunteer",
    "title": {"zh": "助老服务", "en": "Elderly-care visit"},
    "description": {
        "zh": "为社区独居、高龄老人提供上门探访、助餐、助洁等服务。",
        "en": "Visits, meals or cleaning for elderly residents living alone in the community.",
    },
    "points_per_unit": 10,
    "unit": "hour",
    "unit_label": {"zh": "小时", "en": "hour"},
    "caps": {"day": 40, "week": None, "month": 400, "year": None},
    "certified_by": "awarder",
    "evidence_required": False,
    "active_from": None,
    "active_until": None,
}


class BehaviourOut(BaseModel):
    """One behaviour of the list: what earns points, how many per unit (每小时 10 分), the caps,
    who certifies it (a staff role, or `feed:<source>` for an integration such as the smart
    sorting bins), and whether the awarder must attach evidence."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ELDERLY_CARE]})

    # Internal keys for the award path; never part of what the API shows.
    id: int = Field(exclude=True)
    version_id: int = Field(exclude=True)
    code: str
    category: CategoryName
    title: LocalisedOut
    description: LocalisedOut
    points_per_unit: int
    unit: UnitName
    unit_label: LocalisedOut = Field(description="The unit as residents read it: 次, 小时, 公斤.")
    caps: CapsOut
    certified_by: str = Field(
        description="A staff role (`awarder`, `approver`) or `feed:<source>`."
    )
    evidence_required: bool
    active_from: datetime | None
    active_until: datetime | None = Field(description="Exclusive; null: open-ended.")

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
    """The current version of the list (正向行为清单) and its behaviours."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 2,
                    "published_at": "2026-03-02T01:30:00Z",
                    "notes": "吴江区正向行为清单 2026 年第二版 / Wujiang behaviour list, 2026, "
                    "second edition",
                    "behaviours": [
                        {
                            "code": "garbage-sorting",
                            "category": "green",
                            "title": {"zh": "垃圾正确分类投放", "en": "Correct garbage sorting"},
                            "description": {
                                "zh": "在智能分类回收箱正确分类投放生活垃圾,"
                                "由设备识别并计入绿色存折。",
                                "en": "Household waste put correctly sorted into a smart "
                                "sorting bin, recognised by the machine and credited to the "
                                "green passbook.",
                            },
                            "points_per_unit": 2,
                            "unit": "time",
                            "unit_label": {"zh": "次", "en": "time"},
                            "caps": {"day": 4, "week": 28, "month": 120, "year": None},
                            "certified_by": "feed:garbage-sorting",
                            "evidence_required": False,
                            "active_from": None,
                            "active_until": None,
                        },
                        {
                            "code": "taihu-clean-up",
                            "category": "green",
                            "title": {"zh": "太湖岸线清洁", "en": "Taihu lake shore clean-up"},
                            "description": {
                                "zh": "参加太湖及湖荡岸线垃圾清理活动,按服务时长计分。",
                                "en": "Clearing litter along the shores of Lake Taihu and the "
                                "district's lakes, by the hour.",
                            },
                            "points_per_unit": 8,
                            "unit": "hour",
                            "unit_label": {"zh": "小时", "en": "hour"},
                            "caps": {"day": 32, "week": None, "month": 160, "year": None},
                            "certified_by": "awarder",
                            "evidence_required": False,
                            "active_from": "2026-02-28T16:00:00Z",
                            "active_until": None,
                        },
                        _ELDERLY_CARE,
                        {
                            "code": "city-problem-report",
                            "category": "cogovernance",
                            "title": {"zh": "城市问题随手拍", "en": "Verified city problem report"},
                            "description": {
                                "zh": "上报的城市管理问题(如井盖缺失、违章占道)经网格员核实属实。",
                                "en": "A reported city-management problem (a missing manhole "
                                "cover, a blocked pavement) confirmed by the grid worker.",
                            },
                            "points_per_unit": 5,
                            "unit": "time",
                            "unit_label": {"zh": "次", "en": "time"},
                            "caps": {"day": 10, "week": None, "month": 100, "year": None},
                            "certified_by": "awarder",
                            "evidence_required": True,
                            "active_from": None,
                            "active_until": None,
                        },
                    ],
                }
            ]
        }
    )

    version: int
    published_at: datetime
    notes: str | None
    behaviours: list[BehaviourOut]
