"""Tickets: filed by a hotline agent, moved through their workflow, rated by the caller.

Numbers read `WJ` + the local date + a six-digit sequence of that day (`WJ20261125-000042`).
The next number is the day's highest plus one, inserted in a savepoint under the table's unique
constraint: two agents filing at once both compute the same number, one insert wins and the other
computes again, so numbers stay dense and distinct without a counter row that every filing
writes.

Every status change writes a TicketEvent and, for a ticket linked to a resident, the
`tickets.status_changed` outbox notice, in the caller's transaction. Changes are conditional
updates on the status they were checked against, so two agents moving one ticket at once cannot
both succeed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import notifications
from core import clock, cursors
from core.ids import new_id
from core.pagination import MAX_LIMIT, split_page
from core.settings import get_settings
from identity import residents
from tickets.errors import (
    InvalidTicket,
    TicketAlreadyRated,
    TicketNotClosed,
    TicketNotFound,
    TicketTransitionInvalid,
)
from tickets.models import Ticket, TicketEvent, TicketKind, TicketStatus
from tickets.schemas import TicketBrief, TicketEventOut, TicketOut, TicketPage

log = structlog.get_logger(__name__)

ticket_t = Ticket.__table__  # type: ignore[attr-defined]
event_t = TicketEvent.__table__  # type: ignore[attr-defined]

STATUS_CHANGED = "tickets.status_changed"
NUMBER_PREFIX = "WJ"
# Losing the race for a number costs one more try; this many lost in a row means something else
# is wrong (a number the sequence cannot pass, say), and the filing fails rather than spin.
NUMBER_ATTEMPTS = 50
# Where each status may go next. Closing is allowed before resolving: a consultation answered
# on the call, a duplicate, a withdrawn complaint.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.CLOSED}),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}
E = TypeVar("E", TicketKind, TicketStatus)
UNFINISHED = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED)


async def create_ticket(
    session: AsyncSession,
    *,
    kind: TicketKind,
    subject: str,
    body: str,
    created_by: str,
    resident_id: uuid.UUID | None = None,
    channel: str = "hotline",
) -> TicketOut:
    """File a ticket, `open`, numbered for today (local time); linked to `resident_id` if given
    (ResidentNotFound if no such resident)."""
    if resident_id is not None:
        await residents.get(session, resident_id=resident_id)
    if not subject.strip() or not body.strip():
        raise InvalidTicket("A ticket needs a subject and a body.")
    kind = _member(TicketKind, kind)
    now, ticket_id = clock.now(), new_id()
    row = {
        "id": ticket_id,
        "resident_id": resident_id,
        "kind": kind.value,
        "subject": subject.strip()[:200],
        "body": body.strip()[:4000],
        "channel": channel[:16],
        "status": TicketStatus.OPEN.value,
        "created_by": created_by[:80],
        "created_at": now,
        "updated_at": now,
    }
    number = await _insert_numbered(session, row, day_of=now)
    await _add_event(session, ticket_id, None, TicketStatus.OPEN, actor=created_by, note=None)
    log.info("tickets.created", ticket_id=str(ticket_id), number=number, kind=kind.value)
    return await _out(session, await _row(session, number), with_events=True)


def number_prefix(at: datetime) -> str:
    """`WJyyyymmdd-` of the local day `at` falls on."""
    local = at.astimezone(ZoneInfo(get_settings().points_timezone))
    return f"{NUMBER_PREFIX}{local:%Y%m%d}-"


async def _insert_numbered(session: AsyncSession, row: dict[str, Any], *, day_of: datetime) -> str:
    prefix = number_prefix(day_of)
    for _ in range(NUMBER_ATTEMPTS):
        last = await session.scalar(
            select(func.max(ticket_t.c.number)).where(ticket_t.c.number.like(prefix + "%"))
        )
        number = f"{prefix}{int(last.removeprefix(prefix)) + 1 if last else 1:06d}"
        try:
            async with session.begin_nested():
                await session.execute(insert(ticket_t), [{**row, "number": number}])
        except IntegrityError as exc:
            if not _is_number_clash(exc):
                raise
            log.info("tickets.number_taken", number=number)  # another filing was first
            continue
        return number
    raise RuntimeError(f"no free ticket number after {NUMBER_ATTEMPTS} attempts for {prefix}")


def _is_number_clash(exc: IntegrityError) -> bool:
    message = str(exc.orig)
    # PostgreSQL names the constraint; SQLite names the column.
    return "uq_ticket_number" in message or "ticket.number" in message


async def get_ticket(session: AsyncSession, *, number: str) -> TicketOut:
    """One ticket with its status history; TicketNotFound if there is none by that number."""
    return await _out(session, await _row(session, number), with_events=True)


async def change_status(
    session: AsyncSession,
    *,
    number: str,
    status: TicketStatus,
    actor: str,
    note: str | None = None,
) -> TicketOut:
    """Move a ticket along its workflow (TicketTransitionInvalid otherwise), record the event
    and tell a linked resident."""
    current = await _row(session, number)
    source, target = TicketStatus(current.status), _member(TicketStatus, status)
    if target not in TRANSITIONS[source]:
        raise _invalid(source, target)
    now = clock.now()
    changed = await session.execute(
        update(ticket_t)
        .where(ticket_t.c.id == current.id, ticket_t.c.status == source.value)
        .values(
            status=target.value,
            updated_at=now,
            closed_at=now if target is TicketStatus.CLOSED else ticket_t.c.closed_at,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        # Another agent moved it between our read and our update: judge against what they did.
        raise _invalid(TicketStatus((await _row(session, number)).status), target)
    await _add_event(session, current.id, source, target, actor=actor, note=note)
    if current.resident_id is not None:
        await notifications.enqueue(
            session,
            topic=STATUS_CHANGED,
            resident_id=current.resident_id,
            payload={
                "ticket_id": str(current.id),
                "number": current.number,
                "status": target.value,
                "kind": current.kind,
            },
            # Statuses only move forward, so each is reached once per ticket.
            dedupe_key=f"ticket:{current.id}:{target.value}",
        )
    log.info("tickets.status_changed", ticket_id=str(current.id), status=target.value)
    return await _out(session, await _row(session, number), with_events=True)


def _member(enum: type[E], value: str) -> E:
    try:
        return enum(value)
    except ValueError:
        raise InvalidTicket(f"{value!r} is not a ticket {enum.__name__[6:].lower()}.") from None


def _invalid(source: TicketStatus, target: TicketStatus) -> TicketTransitionInvalid:
    allowed = ", ".join(sorted(TRANSITIONS[source])) or "nothing (it is closed)"
    return TicketTransitionInvalid(
        f"A ticket that is {source.value} cannot become {target.value}; it may become {allowed}.",
        from_status=source.value,
        to_status=target.value,
    )


async def rate_ticket(session: AsyncSession, *, number: str, rating: int) -> TicketOut:
    """The caller's satisfaction (1–5), taken once, after the ticket is closed."""
    if isinstance(rating, bool) or not 1 <= rating <= 5:
        raise InvalidTicket("A rating is a whole number from 1 to 5.")
    current = await _row(session, number)
    rated = await session.execute(
        update(ticket_t)
        .where(
            ticket_t.c.id == current.id,
            ticket_t.c.status == TicketStatus.CLOSED.value,
            ticket_t.c.rating.is_(None),
        )
        .values(rating=rating, rated_at=clock.now())
    )
    if rated.rowcount != 1:  # type: ignore[attr-defined]
        fresh = await _row(session, number)
        if fresh.status != TicketStatus.CLOSED.value:
            raise TicketNotClosed(f"Ticket {number} is {fresh.status}; it is rated once closed.")
        raise TicketAlreadyRated(f"Ticket {number} has already been rated.")
    log.info("tickets.rated", ticket_id=str(current.id), rating=rating)
    return await _out(session, await _row(session, number), with_events=True)


async def resident_tickets(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    cursor: str | None = None,
    limit: int = 20,
) -> TicketPage:
    """The resident's own tickets, newest first, a keyset page at a time."""
    limit = max(1, min(limit, MAX_LIMIT))
    query = select(ticket_t).where(ticket_t.c.resident_id == resident_id)
    if cursor:
        query = query.where(ticket_t.c.id < cursors.decode_id("t", cursor))
    rows = (await session.execute(query.order_by(ticket_t.c.id.desc()).limit(limit + 1))).all()
    page, next_cursor = split_page(rows, limit, lambda row: cursors.encode_id("t", row.id))
    return TicketPage(
        items=[TicketOut.model_validate(row._mapping) for row in page], next_cursor=next_cursor
    )


async def unfinished_tickets(
    session: AsyncSession, *, resident_id: uuid.UUID, limit: int = 20
) -> list[TicketBrief]:
    """The resident's tickets not yet closed, newest first: what an agent sees on a call."""
    rows = await session.execute(
        select(ticket_t.c.number, ticket_t.c.kind, ticket_t.c.status, ticket_t.c.created_at)
        .where(
            ticket_t.c.resident_id == resident_id,
            ticket_t.c.status.in_([s.value for s in UNFINISHED]),
        )
        .order_by(ticket_t.c.id.desc())
        .limit(limit)
    )
    return [TicketBrief.model_validate(row._mapping) for row in rows]


async def _row(session: AsyncSession, number: str) -> Any:
    row = (await session.execute(select(ticket_t).where(ticket_t.c.number == number))).first()
    if row is None:
        raise TicketNotFound(f"No ticket is numbered {number[:24]!r}.")
    return row


async def _out(session: AsyncSession, row: Any, *, with_events: bool = False) -> TicketOut:
    ticket = TicketOut.model_validate(row._mapping)
    if with_events:
        events = await session.execute(
            select(event_t)
            .where(event_t.c.ticket_id == row.id)
            .order_by(event_t.c.at, event_t.c.id)
        )
        ticket.events = [TicketEventOut.model_validate(e._mapping) for e in events]
    return ticket


async def _add_event(
    session: AsyncSession,
    ticket_id: uuid.UUID,
    source: TicketStatus | None,
    target: TicketStatus,
    *,
    actor: str,
    note: str | None,
) -> None:
    await session.execute(
        insert(event_t),
        [
            {
                "id": new_id(),
                "ticket_id": ticket_id,
                "from_status": source.value if source else None,
                "to_status": target.value,
                "actor": actor[:80],
                "note": note[:1000] if note else None,
                "at": clock.now(),
            }
        ],
    )
