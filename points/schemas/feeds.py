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
    programme does not know are ignored: machines send what they have."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, coerce_numbers_to_str=True)

    record_id: Annotated[str, Field(min_length=1, max_length=200)]
    resident: uuid.UUID | None = None
    # An 11-digit mainland mobile, looked up through the blind index; never stored or logged.
    phone: Annotated[str, Field(max_length=32)] | None = None
    behaviour: Annotated[str, Field(pattern=r"^[a-z0-9-]{2,64}$")]
    quantity: Quantity = Decimal(1)
    occurred_at: Annotated[AwareDatetime, AfterValidator(clock.in_utc_range)]
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

    line: int
    record_id: str | None
    reason: str
    message: str


class FeedReport(BaseModel):
    """What a batch did. Re-sending a batch is safe: records already imported count as
    `duplicates`, never twice as points."""

    source: str
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    failed: int = 0
    points: int = 0
    errors: list[FeedRowError] = []
