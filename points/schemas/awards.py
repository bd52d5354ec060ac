"""Awards in and out: what a staff member or a feed asks for, and what they get back."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, model_validator

from core.pagination import Page
from points.schemas.behaviours import CategoryName


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
# pending: waits for an approver; posted: the points are in the wallet; rejected: refused.
AwardStatusName = Literal["pending", "posted", "rejected"]
FlagKindName = Literal["repeat_pair", "burst"]

# One resident, staff members and award throughout the examples, so they read as one story.
_RESIDENT = "019cac1a-4628-7cb4-a85e-047675dfd58e"
_AWARDER = "019b912c-f000-7e96-9b1f-1fdd12e88164"
_APPROVER = "019b9131-83e0-713f-9ca1-94269a368169"
_AWARD = "01a2106e-6500-7853-b5b7-ed72960eae11"
_EARN_CODE = "WJE1.AZysGkYofLSoXgR2dd_VjmsGQVxANwK6Itk.ddd4Us-C50AogM6Z8H9ziw"
_NOTE = "为社区独居老人上门助餐、打扫卫生 2 小时"


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
    """What backs an award up: a note, photos (uploaded elsewhere; their URLs here), or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": _NOTE, "photo_urls": []}]},
    )

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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": _EARN_CODE,
                    "behaviour": "elderly-care-visit",
                    "quantity": "2",
                    "community": "songling",
                    "evidence": {"note": _NOTE},
                }
            ]
        },
    )

    # Not length-checked here: whatever was scanned, the earning-code reader refuses it as
    # `invalid-earn-code`, the one answer a scanner app has to handle.
    code: str | None = Field(
        default=None, description="The scanned earning code (`WJE1.…`); or give `resident_id`."
    )
    resident_id: uuid.UUID | None = Field(
        default=None, description="At a counter, the resident's id instead of a scanned code."
    )
    behaviour: Annotated[
        str, Field(pattern=r"^[a-z0-9-]{2,64}$", description="A code from the behaviour list.")
    ]
    quantity: Quantity = Field(
        default=Decimal(1), description="Units of the behaviour's `unit`: whole for `time`."
    )
    community: Community
    evidence: Evidence | None = Field(
        default=None, description="Required when the behaviour has `evidence_required`."
    )

    @model_validator(mode="after")
    def _one_resident(self) -> Self:
        if (self.code is None) == (self.resident_id is None):
            raise ValueError("give exactly one of `code` (scanned) and `resident_id`")
        return self


class DecisionIn(BaseModel):
    """An approver's decision; the reason is optional to approve, required to reject."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "照片与服务记录核对无误"}]}
    )

    reason: Note | None = None


class ReversalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "同一次助老服务重复录入", "points": 20}]},
    )

    reason: Note
    # None: everything that is left of the award.
    points: Annotated[int, Field(strict=True, gt=0)] | None = Field(
        default=None, description="How many to take back; absent: all of the award."
    )


class EarnCodeOut(BaseModel):
    """The resident's earning code, shown as a QR for a staff member to scan."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": _EARN_CODE,
                    "qr_payload": _EARN_CODE,
                    "expires_at": "2026-11-25T02:01:00Z",
                    "refresh_after_seconds": 45,
                }
            ]
        }
    )

    code: str
    # What the QR encodes: the code itself, for now.
    qr_payload: str = Field(description="Draw this as the QR code.")
    expires_at: datetime
    # When the app should fetch the next code, leaving time to scan the current one.
    refresh_after_seconds: int


class AwardOut(BaseModel):
    """An award as staff see it. `entry_id` is the ledger entry that moved the points (none
    while pending or once rejected); `reversed_points` how many an approver took back."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _AWARD,
                    "status": "posted",
                    "resident_id": _RESIDENT,
                    "staff_id": _AWARDER,
                    "source": "staff",
                    "behaviour": "elderly-care-visit",
                    "behaviour_version": 1,
                    "category": "volunteer",
                    "community": "songling",
                    "quantity": "2",
                    "points": 20,
                    "evidence": {"note": _NOTE, "photo_urls": []},
                    "occurred_at": "2026-11-25T02:00:00Z",
                    "expires_at": "2027-12-31T16:00:00Z",
                    "created_at": "2026-11-25T02:00:00Z",
                    "entry_id": "01a2106e-6528-7c84-9afb-95d76be3cc06",
                    "decided_at": None,
                    "decided_by": None,
                    "decision_reason": None,
                    "reversed_points": 0,
                    "reversal_reason": None,
                }
            ]
        }
    )

    id: uuid.UUID
    status: AwardStatusName
    resident_id: uuid.UUID
    staff_id: uuid.UUID | None
    source: str = Field(description="`staff`, or `feed:<source>` for an integration's award.")
    behaviour: str
    behaviour_version: int
    category: CategoryName
    community: str
    quantity: Decimal
    points: int
    evidence: dict[str, object] | None = Field(description="As sent: `note`, `photo_urls`.")
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
    """A fraud signal on an award, for an approver to review: `repeat_pair` (one staff member
    awarding one resident unusually often) or `burst` (awards faster than a person certifies)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a2106e-6532-79d9-9cde-2d563dafaef5",
                    "kind": "repeat_pair",
                    "award_id": _AWARD,
                    "staff_id": _AWARDER,
                    "resident_id": _RESIDENT,
                    "community": "songling",
                    "detail": "5 awards to this resident in 7 days",
                    "created_at": "2026-11-25T02:00:00Z",
                    "reviewed_at": "2026-11-26T01:30:00Z",
                    "reviewed_by": _APPROVER,
                    "review_note": "本周社区集中开展助老志愿活动,属正常",
                }
            ]
        }
    )

    id: uuid.UUID
    kind: FlagKindName
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
