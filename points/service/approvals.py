"""Maker-checker: a second staff member with the `approver` role approves or rejects awards
above the threshold, and corrects posted awards by reversing them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

import ledger
import notifications
from core import clock, cursors
from core.pagination import split_page
from core.redis import get_redis
from identity.models import StaffRole
from points.errors import (
    AwardNotFound,
    AwardNotPending,
    AwardNotReversible,
    InvalidAward,
    SelfApproval,
)
from points.models import Award, AwardStatus
from points.repository import awards as repo
from points.schemas.awards import AwardOut, AwardPage, StaffActor
from points.service import awards, limits, rankings
from points.service.fraud import approver_communities


async def pending(
    session: AsyncSession, *, approver: StaffActor, cursor: str | None = None, limit: int = 20
) -> AwardPage:
    """Awards waiting for approval in the caller's communities, oldest first, a keyset page at
    a time."""
    after = cursors.decode_id("p", cursor) if cursor else None
    rows = await repo.pending(session, approver_communities(approver), after=after, limit=limit + 1)
    shown, next_cursor = split_page(rows, limit, lambda row: cursors.encode_id("p", row.id))
    return AwardPage(
        items=[await awards.to_out(session, row) for row in shown], next_cursor=next_cursor
    )


async def approve(
    session: AsyncSession, *, award_id: uuid.UUID, approver: StaffActor, reason: str | None
) -> AwardOut:
    """Approve a pending award: its points move now. The same approver retrying gets the
    award back unchanged; a decision already taken otherwise is refused."""
    row, decided_now = await _decide(session, award_id, approver, AwardStatus.POSTED, reason)
    if decided_now:
        behaviour, _ = await repo.behaviour_of(session, row.behaviour_id)
        await awards.post(session, row, behaviour)
    return await awards.to_out(session, row)


async def reject(
    session: AsyncSession, *, award_id: uuid.UUID, approver: StaffActor, reason: str | None
) -> AwardOut:
    """Reject a pending award with a reason; its caps and budget are given back."""
    if not reason:
        raise InvalidAward("Give the reason for rejecting the award.")
    row, decided_now = await _decide(session, award_id, approver, AwardStatus.REJECTED, reason)
    if decided_now:
        await _give_back(session, row, row.points)
        await notifications.enqueue(
            session,
            topic="points.award_rejected",
            resident_id=row.resident_id,
            payload={"award_id": str(row.id), "behaviour": row.behaviour_code, "reason": reason},
        )
    return await awards.to_out(session, row)


async def _decide(
    session: AsyncSession,
    award_id: uuid.UUID,
    approver: StaffActor,
    status: AwardStatus,
    reason: str | None,
) -> tuple[Award, bool]:
    """Move a pending award to `status`: the award, and whether this call decided it (False:
    this approver's earlier identical decision, replayed). Two approvers racing: one wins,
    the conditional update makes the other wait and then find the award decided."""
    row = await _reload(session, award_id)
    _check_approver(row, approver)
    if _already(row, approver, status):
        return row, False
    _decidable(row, approver)
    values = {"decided_at": clock.now(), "decided_by": approver.id, "decision_reason": reason}
    if await repo.decide(session, award_id, status=status, values=values):
        return await _reload(session, award_id), True
    row = await _reload(session, award_id)
    if _already(row, approver, status):
        return row, False
    raise AwardNotPending(f"The award is already {row.status}.", award_status=row.status)


async def reverse(
    session: AsyncSession,
    *,
    award_id: uuid.UUID,
    approver: StaffActor,
    reason: str,
    points: int | None = None,
) -> AwardOut:
    """Take back all or part of a posted award. Points already spent or expired cannot come
    back: the ledger refuses, saying how many remain. An award is reversed once; a retry of the
    same reversal replays it."""
    row = await _reload(session, award_id)
    _check_approver(row, approver)
    if row.status != AwardStatus.POSTED.value or row.entry_id is None:
        raise AwardNotReversible(
            f"A {row.status} award cannot be reversed.", award_status=row.status
        )
    amount = points if points is not None else row.points
    if amount > row.points:
        raise AwardNotReversible(f"The award was of {row.points} points.", points=row.points)
    if await repo.claim_reversal(session, row.id, _reversal_values(approver, amount, reason)):
        # Caps and budget before the ledger: the same lock order as an award (counters, then
        # the wallet), so a reversal racing an award for the same resident cannot deadlock.
        await _give_back(session, row, amount)
        entry = await _reverse_entry(session, row, approver, reason, amount)
        await repo.set_values(session, row.id, {"reversal_entry_id": entry.id})
        await notifications.enqueue(
            session,
            topic="points.reversed",
            resident_id=row.resident_id,
            payload={"award_id": str(row.id), "points": amount, "reason": reason},
        )
        await rankings.record_award_for_ranking(
            session,
            get_redis(),
            resident_id=row.resident_id,
            points=-amount,
            at=row.decided_at or row.created_at,  # the month the award counted in
        )
    else:
        # Reversed already (or just now, by a request that waited for us): the ledger replays
        # an identical reversal and refuses any other.
        await _reverse_entry(session, row, approver, reason, amount)
    return await awards.to_out(session, await _reload(session, award_id))


async def _reverse_entry(
    session: AsyncSession, row: Award, approver: StaffActor, reason: str, amount: int
) -> ledger.EntryOut:
    assert row.entry_id is not None
    return await ledger.reverse(
        session,
        entry_id=row.entry_id,
        key=f"award:{row.id}:reversal",
        actor=approver.issued_by,
        memo=reason,
        amount=amount,
    )


def _reversal_values(approver: StaffActor, amount: int, reason: str) -> dict[str, object]:
    return {
        "reversed_points": amount,
        "reversed_at": clock.now(),
        "reversed_by": approver.id,
        "reversal_reason": reason,
    }


async def _give_back(session: AsyncSession, row: Award, amount: int) -> None:
    behaviour, _ = await repo.behaviour_of(session, row.behaviour_id)
    await limits.give_back_caps(
        session,
        behaviour=behaviour,
        resident_id=row.resident_id,
        occurred_at=row.occurred_at,
        points=amount,
    )
    if row.staff_id is not None:
        await limits.give_back_budget(
            session, staff_id=row.staff_id, at=row.created_at, points=amount
        )


def _decidable(row: Award, approver: StaffActor) -> None:
    if row.staff_id == approver.id:
        raise SelfApproval("You made this award: a second staff member must decide it.")
    if row.status != AwardStatus.PENDING.value:
        raise AwardNotPending(f"The award is already {row.status}.", award_status=row.status)


def _already(row: Award, approver: StaffActor, status: AwardStatus) -> bool:
    """Whether this approver already took this decision (a retried request)."""
    return row.status == status.value and row.decided_by == approver.id


def _check_approver(row: Award, approver: StaffActor) -> None:
    # Awards outside the caller's communities look the same as awards that do not exist.
    if not approver.can(StaffRole.APPROVER.value, row.community):
        raise AwardNotFound("No such award in your communities.")


async def _reload(session: AsyncSession, award_id: uuid.UUID) -> Award:
    row = await repo.by_id(session, award_id)
    if row is None:
        raise AwardNotFound("No such award.")
    return row
