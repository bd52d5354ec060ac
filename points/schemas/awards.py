"""Awards in and out: what a staff member or a feed asks for, and what they get back."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from core.pagination import Page


def _plain_text(text: str) -> str:
    # A NUL or a lone surrogate cannot be stored (PostgreSQL refuses both): refuse them here,
    # as a validation error, rather than fail at the database.
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\r\t" for c in text):
        raise ValueError("control characters are not allowed")
    return text


# Free text a staff member types: notes, reasons.
Note = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_plain_text)]
COMMUNITY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
Community = Annotated[str, Field(pattern=COMMUNITY_PATTERN, examples=["songling"])]
# Up to 10,000 units with at most three decimals (2.5 kg, 1.5 hours).
Quantity = Annotated[Decimal, Field(gt=0, le=10_000, decimal_places=3, examples=["1", "2.5"])]


@dataclass(frozen=True)
class StaffActor:
    """The staff member making a request, as the edge verified them: (role, community) pairs,
    `*` for district-wide."""

    id: uuid.UUID
    roles: frozenset[tuple[str, str]]

    def can(self, role: str, community: str) -> bool:
        return (role, community) in self.roles or (role, "*") in self.roles

    @property
    def issued_by(self) -> str:
        return f"staff:{self.id}"


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note | None = None
    photo_urls: Annotated[list[HttpUrl], Field(max_length=5)] = []

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.note and not self.photo_urls:
            raise ValueError("evidence needs a note or at least one photo URL")
        return self


class AwardIn(BaseModel):
    """A staff award: the resident's scanned code (or, at a counter, their id), the behaviour
    from the current list, how much of it, and where it happened."""

    model_config = ConfigDict(extra="forbid")

    # Not length-checked here: whatever was scanned, the earning-code reader refuses it as
    # `invalid-earn-code`, the one answer a scanner app has to handle.
    code: str | None = None
    resident_id: uuid.UUID | None = None
    behaviour: Annotated[str, Field(pattern=r"^[a-z0-9-]{2,64}$")]
    quantity: Quantity = Decimal(1)
    community: Community
    evidence: Evidence | None = None

    @model_validator(mode="after")
    def _one_resident(self) -> Self:
        if (self.code is None) == (self.resident_id is None):
            raise ValueError("give exactly one of `code` (scanned) and `resident_id`")
        return self


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note | None = None


class ReversalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Note
    # None: everything that is left of the award.
    points: Annotated[int, Field(gt=0)] | None = None


class EarnCodeOut(BaseModel):
    code: str
    # What the QR encodes: the code itself, for now.
    qr_payload: str
    expires_at: datetime
    # When the app should fetch the next code, leaving time to scan the current one.
    refresh_after_seconds: int


class AwardOut(BaseModel):
    id: uuid.UUID
    status: str
    resident_id: uuid.UUID
    staff_id: uuid.UUID | None
    source: str
    behaviour: str
    behaviour_version: int
    category: str
    community: str
    quantity: Decimal
    points: int
    evidence: dict[str, object] | None
    occurred_at: datetime
    expires_at: datetime
    created_at: datetime
    entry_id: uuid.UUID | None
    decided_at: datetime | None
    decided_by: uuid.UUID | None
    decision_reason: str | None
    reversed_points: int
    reversal_reason: str | None
    # Not part of the body: whether this answers a request the ledger had already seen. The
    # HTTP answer to a retry is the first answer itself (`Idempotent-Replayed: true`).
    replayed: bool = Field(default=False, exclude=True)


class FlagOut(BaseModel):
    id: uuid.UUID
    kind: str
    award_id: uuid.UUID
    staff_id: uuid.UUID | None
    resident_id: uuid.UUID
    community: str
    detail: str
    created_at: datetime
    reviewed_at: datetime | None
    reviewed_by: uuid.UUID | None
    review_note: str | None


class AwardPage(Page[AwardOut]):
    """Awards waiting for approval, oldest first."""


class FlagPage(Page[FlagOut]):
    """Fraud signals, newest first."""
