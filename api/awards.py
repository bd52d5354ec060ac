"""Earning points over HTTP: the resident's earning code, staff awards, and the approvers'
maker-checker queue, corrections and fraud flags. Each handler calls one `points` service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Response, status
from pydantic import BaseModel, ConfigDict

import points
from api.deps import Session
from api.idempotency import idempotent
from api.pagination import Paging
from api.params import Flag
from api.principal import CurrentResident, CurrentStaff, StaffKey, StaffPrincipal, require_staff
from api.routing import contract_router
from identity.models import StaffRole
from ledger.errors import IdempotencyConflict, ReversalExceedsRemaining
from mobile_contract.problems import raises
from points.errors import (
    AwardNotFound,
    AwardNotPending,
    AwardNotReversible,
    BehaviourNotActive,
    BudgetExhausted,
    CapReached,
    EarnCodeUsed,
    EvidenceRequired,
    IdempotencyKeyReused,
    InvalidAward,
    InvalidEarnCode,
    NoBehaviourList,
    NotCertifier,
    SelfApproval,
    UnknownBehaviour,
    UnknownResident,
)
from points.schemas.awards import (
    AwardIn,
    AwardOut,
    AwardPage,
    DecisionIn,
    EarnCodeOut,
    FlagOut,
    FlagPage,
    Note,
    ReversalIn,
    StaffActor,
)

router = contract_router(tags=["staff"])

approver = require_staff(StaffRole.APPROVER)
Approver = Annotated[StaffPrincipal, Depends(approver)]
OptionalApproverKey = idempotent(approver, required=False)


class FlagReview(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "本周社区集中开展助老志愿活动,属正常"}]}
    )

    note: Note


def _actor(staff: StaffPrincipal) -> StaffActor:
    return StaffActor(id=staff.staff_id, roles=staff.roles)


@router.get("/v1/me/points/code", summary="My earning code (the QR staff scan)", tags=["app"])
async def earning_code(resident: CurrentResident, response: Response) -> EarnCodeOut:
    """A fresh earning code, valid about a minute: show `qr_payload` as a QR for staff to scan,
    and fetch the next after `refresh_after_seconds`. Each code earns each behaviour once, and
    a screenshot stops working when it expires. Never cached."""
    response.headers["Cache-Control"] = "no-store"
    return points.issue_earn_code(resident.resident_id)


@router.post("/v1/staff/awards", status_code=status.HTTP_201_CREATED, summary="Award points")
@raises(
    NotCertifier,
    NoBehaviourList,
    UnknownBehaviour,
    UnknownResident,
    BudgetExhausted,
    CapReached,
    EarnCodeUsed,
    IdempotencyKeyReused,
    BehaviourNotActive,
    EvidenceRequired,
    InvalidAward,
    InvalidEarnCode,
)
async def award_points(
    body: AwardIn,
    session: Session,
    staff: CurrentStaff,
    idempotency_key: Annotated[str, StaffKey],
) -> AwardOut:
    """Award points for a behaviour the staff member certifies: `pending` if it needs an
    approver (more points than the approval threshold), else `posted` and the resident is
    told. A retry with the same Idempotency-Key is answered with the first answer; the same key
    with another body is `idempotency-key-reused`.

    Refusals a scanner app shows: `invalid-earn-code` (ask for a fresh code), `earn-code-used`
    (this code already earned this behaviour), `cap-reached` (extension members `period`,
    `cap`, `used`, `remaining`: the resident's cap for the behaviour), `budget-exhausted`
    (`budget`, `used`, `remaining`: the staff member's daily budget), `not-certifier`
    (`certified_by`, and `community`: another role or a feed certifies it there),
    `behaviour-not-active` and `unknown-behaviour` (with `behaviour`), `evidence-required`,
    `invalid-award` (a fraction of a per-occurrence behaviour, under one point, or a bad key)."""
    return await points.award(
        session, request=body, staff=_actor(staff), idempotency_key=idempotency_key
    )


@router.get("/v1/staff/awards/pending", summary="Awards waiting for approval")
async def pending_awards(session: Session, approver: Approver, page: Paging) -> AwardPage:
    """Oldest first, in the communities where the caller approves (all, for `*`)."""
    return await points.pending_awards(
        session, approver=_actor(approver), cursor=page.cursor, limit=page.limit
    )


@router.post("/v1/staff/awards/{award_id}/approve", summary="Approve an award")
@raises(SelfApproval, AwardNotFound, AwardNotPending)
async def approve_award(
    award_id: uuid.UUID,
    session: Session,
    approver: Approver,
    _key: Annotated[str | None, OptionalApproverKey],
    body: DecisionIn | None = None,
) -> AwardOut:
    """The points move now and the resident is told. The same approver retrying gets the award
    back unchanged; an award decided otherwise is `award-not-pending` (with `award_status`).
    Whoever made the award cannot approve it (`self-approval`); an award outside the caller's
    communities is `award-not-found`."""
    return await points.approve_award(
        session,
        award_id=award_id,
        approver=_actor(approver),
        reason=body.reason if body else None,
    )


@router.post("/v1/staff/awards/{award_id}/reject", summary="Reject an award, with a reason")
@raises(SelfApproval, AwardNotFound, AwardNotPending, InvalidAward)
async def reject_award(
    award_id: uuid.UUID,
    session: Session,
    approver: Approver,
    body: DecisionIn,
    _key: Annotated[str | None, OptionalApproverKey],
) -> AwardOut:
    """A reason is required (`invalid-award` without one); the resident is told it, and the
    award's room under the caps and the awarder's budget is given back. The same approver
    retrying gets the award back unchanged."""
    return await points.reject_award(
        session, award_id=award_id, approver=_actor(approver), reason=body.reason
    )


@router.post("/v1/staff/awards/{award_id}/reversal", summary="Reverse all or part of an award")
@raises(AwardNotFound, AwardNotReversible, IdempotencyConflict, ReversalExceedsRemaining)
async def reverse_award(
    award_id: uuid.UUID,
    session: Session,
    approver: Approver,
    body: ReversalIn,
    _key: Annotated[str | None, OptionalApproverKey],
) -> AwardOut:
    """Take points back with a reason. Refused with `reversal-exceeds-remaining` (and how much
    remains) when they were already spent or expired; a retry replays the reversal."""
    return await points.reverse_award(
        session,
        award_id=award_id,
        approver=_actor(approver),
        reason=body.reason,
        points=body.points,
    )


@router.get("/v1/staff/flags", summary="Fraud signals to review")
async def fraud_flags(
    session: Session, approver: Approver, page: Paging, reviewed: Flag = False
) -> FlagPage:
    """Newest first, in the communities where the caller approves; `reviewed=true` for the
    ones already looked at. A flag never blocks its award."""
    return await points.list_flags(
        session,
        approver=_actor(approver),
        reviewed=reviewed,
        cursor=page.cursor,
        limit=page.limit,
    )


@router.post("/v1/staff/flags/{flag_id}/review", summary="Mark a flag reviewed")
@raises(AwardNotFound)
async def review_flag(
    flag_id: uuid.UUID,
    session: Session,
    approver: Approver,
    body: FlagReview,
    _key: Annotated[str | None, OptionalApproverKey],
) -> FlagOut:
    """Record that the flag was looked at, with a note; reviewing it again keeps the first
    review. A flag outside the caller's communities is not found (`award-not-found`)."""
    return await points.review_flag(
        session, flag_id=flag_id, approver=_actor(approver), note=body.note
    )
