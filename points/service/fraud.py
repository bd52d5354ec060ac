"""Simple fraud signals, raised as flags for approvers to review (never refusals: a busy
volunteer day is not fraud, but it deserves a second look).

- repeat_pair: one staff member awarding one resident unusually often.
- burst: one staff member recording awards faster than a person could certify them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, cursors
from core.ids import new_id
from core.pagination import split_page
from identity.models import StaffRole
from points.errors import AwardNotFound
from points.models import Award, FlagKind
from points.repository import awards as repo
from points.schemas.awards import FlagOut, FlagPage, StaffActor

REPEAT_PAIR_WINDOW = timedelta(days=7)
REPEAT_PAIR_COUNT = 5  # awards by one staff member to one resident within the window
BURST_WINDOW = timedelta(seconds=60)
BURST_COUNT = 10  # awards by one staff member within the window


async def check(session: AsyncSession, award: Award) -> None:
    """Flag `award` if it completes one of the patterns; the award itself stands."""
    if award.staff_id is None:
        return
    now = clock.now()
    pair, burst = await repo.recent_by_staff(
        session,
        award.staff_id,
        award.resident_id,
        pair_since=now - REPEAT_PAIR_WINDOW,
        burst_since=now - BURST_WINDOW,
    )
    flags = []
    if pair >= REPEAT_PAIR_COUNT:
        flags.append(
            _flag(award, FlagKind.REPEAT_PAIR, f"{pair} awards to this resident in 7 days")
        )
    if burst >= BURST_COUNT:
        flags.append(_flag(award, FlagKind.BURST, f"{burst} awards by this staff member in 60 s"))
    await repo.insert_flags(session, flags)


async def list_flags(
    session: AsyncSession,
    *,
    approver: StaffActor,
    reviewed: bool = False,
    cursor: str | None = None,
    limit: int = 20,
) -> FlagPage:
    """Flags in the communities where the caller approves, newest first, a keyset page at a
    time."""
    rows = await repo.flags(
        session,
        approver_communities(approver),
        reviewed=reviewed,
        before=cursors.decode_id("f", cursor) if cursor else None,
        limit=limit + 1,
    )
    shown, next_cursor = split_page(rows, limit, lambda row: cursors.encode_id("f", row.id))
    return FlagPage(
        items=[FlagOut.model_validate(row, from_attributes=True) for row in shown],
        next_cursor=next_cursor,
    )


async def review_flag(
    session: AsyncSession, *, flag_id: uuid.UUID, approver: StaffActor, note: str
) -> FlagOut:
    """Mark a flag reviewed, with the approver's note."""
    row = await repo.flag_by_id(session, flag_id)
    if row is None or not approver.can(StaffRole.APPROVER.value, row.community):
        raise AwardNotFound("No such flag in your communities.")
    if row.reviewed_at is None:
        row.reviewed_at, row.reviewed_by, row.review_note = clock.now(), approver.id, note
        await session.flush()
    return FlagOut.model_validate(row, from_attributes=True)


def approver_communities(approver: StaffActor) -> Sequence[str] | None:
    """Where the caller approves: None for district-wide."""
    held = [c for role, c in approver.roles if role == StaffRole.APPROVER.value]
    return None if "*" in held else held


def _flag(award: Award, kind: FlagKind, detail: str) -> dict[str, object]:
    return {
        "id": new_id(),
        "kind": kind.value,
        "award_id": award.id,
        "staff_id": award.staff_id,
        "resident_id": award.resident_id,
        "community": award.community,
        "detail": detail,
        "created_at": clock.now(),
    }
