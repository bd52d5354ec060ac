"""Integration feeds in and out: one record of a batch, and the report on a batch."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from core import clock
from points.schemas.awards import Community, Quantity

SOURCE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class FeedFormat(enum.StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


class FeedRecord(BaseModel):
    """One record as a feed sends it (a JSON object, or a CSV row under a header). Fields the
    programme does not know are ignored: machines send what they have. Name the resident by
    `resident` or `phone` (or both, which must then agree)."""

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=True,
        coerce_numbers_to_str=True,
        json_schema_extra={
            "examples": [
                {
                    "record_id": "gs-sl-0417-20250320-000187",
                    "resident": "0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
                    "behaviour": "garbage-sorting",
                    "quantity": "2.5",
                    "occurred_at": "2025-03-20T07:42:10+08:00",
                    "community": "songling",
                }
            ]
        },
    )

    record_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="The feed's own id of the record, printable: its idempotency key. A "
            "record re-sent unchanged is a duplicate; changed, it is refused.",
        ),
    ]
    resident: uuid.UUID | None = Field(default=None, description="The resident's id.")
    # An 11-digit mainland mobile, looked up through the blind index; never stored or logged.
    phone: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, description="Or the resident's mainland mobile number."
    )
    behaviour: Annotated[
        str,
        Field(
            pattern=r"^[a-z0-9-]{2,64}$",
            description="A behaviour code of the current list, certified by this feed.",
        ),
    ]
    quantity: Quantity = Decimal(1)
    occurred_at: Annotated[
        AwareDatetime,
        AfterValidator(clock.in_utc_range),
        Field(
            description="With an offset; at most 90 days ago and not in the future (5 minutes' "
            "leeway)."
        ),
    ]
    community: Community

    @field_validator("record_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("record_id must be printable characters")
        return value


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A record that parsed: the resident named by id or by the blind index of their phone."""

    line: int
    record_id: str
    resident_id: uuid.UUID | None
    phone_index: str | None
    behaviour: str
    quantity: Decimal
    occurred_at: datetime  # UTC
    community: str


class FeedRowError(BaseModel):
    """A row that awarded nothing, and why. `reason` is stable (a problem type where there is
    one: unknown-behaviour, cap-reached, not-certifier, unknown-resident, invalid-row, ...)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "line": 3,
                    "record_id": "gs-sl-0417-20250320-000189",
                    "reason": "unknown-resident",
                    "message": "No resident has that id or phone.",
                }
            ]
        }
    )

    line: int = Field(description="1-based line of the batch (the CSV header is line 1).")
    record_id: str | None
    reason: str
    message: str


class FeedReport(BaseModel):
    """What a batch did. Re-sending a batch is safe: records already imported count as
    `duplicates`, never twice as points."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "garbage-sorting",
                    "rows": 3,
                    "imported": 1,
                    "duplicates": 1,
                    "failed": 1,
                    "points": 5,
                    "errors": [
                        {
                            "line": 3,
                            "record_id": "gs-sl-0417-20250320-000189",
                            "reason": "unknown-resident",
                            "message": "No resident has that id or phone.",
                        }
                    ],
                }
            ]
        }
    )

    source: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    failed: int = 0
    points: int = 0
    errors: list[FeedRowError] = []
