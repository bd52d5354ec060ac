"""Tickets: numbered per local day (distinct under concurrent filing), moved only along their
workflow (one winner when two agents race), each change recorded and notified to a linked
resident in the same transaction, rated once after closing, listed to residents only their own;
and the co-governance points an adopted suggestion or verified report earns come through the
programme's normal award path."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import ledger
import notifications
import points
import tickets
from core import clock
from core.db import Database
from identity import residents
from identity.errors import ResidentNotFound
from points.accounts import wallet
from tests.helpers import problem_of
from tests.points_actors import make_resident, make_staff
from tickets import TicketKind, TicketStatus
from tickets.models import TicketEvent

# 2026-11-25 10:00 in Wujiang (UTC+8).
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
AGENT = "agent:A1023"


@pytest.fixture(autouse=True)
def at_morning(redis):  # `redis`: flushed after each test
    with clock.frozen(MORNING):
        yield


async def new_ticket(
    session: AsyncSession,
    resident_id: uuid.UUID | None = None,
    kind: TicketKind = TicketKind.COMPLAINT,
) -> tickets.TicketOut:
    return await tickets.create_ticket(
        session,
        kind=kind,
        subject="噪音扰民",
        body="夜间施工噪音很大。",
        created_by=AGENT,
        resident_id=resident_id,
    )


async def a_resident(session: AsyncSession, phone: str = "13812345678") -> uuid.UUID:
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    return resident.id


# --- numbering ---------------------------------------------------------------------------------


async def test_numbers_follow_the_local_day_and_restart_each_day(session) -> None:
    first = await new_ticket(session)
    second = await new_ticket(session)
    # 16:00 UTC is midnight in Wujiang: the next local day.
    clock.advance(timedelta(hours=13, minutes=59))
    late = await new_ticket(session)
    clock.advance(timedelta(minutes=1))
    next_day = await new_ticket(session)

    assert [t.number for t in (first, second, late, next_day)] == [
        "WJ20261125-000001",
        "WJ20261125-000002",
        "WJ20261125-000003",
        "WJ20261126-000001",
    ]
    assert first.status == TicketStatus.OPEN
    assert first.channel == "hotline"
    assert [(e.from_status, e.to_status, e.actor) for e in first.events] == [
        (None, TicketStatus.OPEN, AGENT)
    ]


async def test_concurrent_filings_get_distinct_dense_numbers(committed_db: Database) -> None:
    async def file(n: int) -> str:
        async with committed_db.unit_of_work() as session:
            ticket = await tickets.create_ticket(
                session,
                kind=TicketKind.CONSULTATION,
                subject=f"咨询 {n}",
                body="社保卡如何办理？",
                created_by=AGENT,
            )
            await asyncio.sleep(0)  # hold the transaction open while the others file
            return ticket.number

    numbers = await asyncio.gather(*(file(n) for n in range(12)))

    assert sorted(numbers) == [f"WJ20261125-{n:06d}" for n in range(1, 13)]
    async with committed_db.unit_of_work() as session:
        events = await session.scalar(select(func.count()).select_from(TicketEvent))
    assert events == 12


async def test_a_ticket_for_an_unknown_resident_is_refused(session) -> None:
    with pytest.raises(ResidentNotFound):
        await new_ticket(session, resident_id=uuid.UUID(int=5))


async def test_an_empty_subject_is_refused(session) -> None:
    with pytest.raises(tickets.InvalidTicket):
        await tickets.create_ticket(
            session, kind=TicketKind.REPORT, subject="  ", body="x", created_by=AGENT
        )


async def test_a_kind_or_status_outside_the_lists_is_refused(session) -> None:
    with pytest.raises(tickets.InvalidTicket, match="not a ticket kind"):
        await tickets.create_ticket(
            session,
            kind="gossip",
            subject="s",
            body="b",
            created_by=AGENT,  # type: ignore[arg-type]
        )
    ticket = await new_ticket(session)
    with pytest.raises(tickets.InvalidTicket, match="not a ticket status"):
        await tickets.change_status(
            session,
            number=ticket.number,
            status="reopened",
            actor=AGENT,  # type: ignore[arg-type]
        )


# --- the workflow ------------------------------------------------------------------------------

VALID_PATHS = [
    ["in_progress", "resolved", "closed"],
    ["in_progress", "closed"],
    ["closed"],
]
INVALID = [
    ([], "open"),
    ([], "resolved"),
    (["in_progress"], "open"),
    (["in_progress"], "in_progress"),
    (["in_progress", "resolved"], "in_progress"),
    (["in_progress", "resolved"], "open"),
    (["in_progress", "resolved"], "resolved"),
    (["closed"], "open"),
    (["closed"], "in_progress"),
    (["closed"], "resolved"),
    (["closed"], "closed"),
]


@pytest.mark.parametrize("path", VALID_PATHS)
async def test_valid_paths_record_an_event_and_notify_each_change(session, path) -> None:
    resident_id = await a_resident(session)
    ticket = await new_ticket(session, resident_id)

    for step in path:
        clock.advance(timedelta(minutes=10))
        moved = await tickets.change_status(
            session, number=ticket.number, status=TicketStatus(step), actor="agent:A2", note=step
        )

    assert moved.status == TicketStatus(path[-1])
    assert moved.closed_at == (clock.now() if path[-1] == "closed" else None)
    assert [e.to_status.value for e in moved.events] == ["open", *path]
    assert [e.from_status for e in moved.events[1:]] == ["open", *path[:-1]]
    sent = await notifications.pending(session, topic=tickets.STATUS_CHANGED)
    assert [m.payload for m in sent] == [
        {"ticket_id": str(ticket.id), "number": ticket.number, "status": s, "kind": "complaint"}
        for s in path
    ]
    assert all(m.resident_id == resident_id for m in sent)


@pytest.mark.parametrize(("before", "target"), INVALID)
async def test_invalid_transitions_are_refused(session, before, target) -> None:
    ticket = await new_ticket(session, await a_resident(session))
    for step in before:
        await tickets.change_status(
            session, number=ticket.number, status=TicketStatus(step), actor="agent:A2"
        )
    notices = len(await notifications.pending(session, topic=tickets.STATUS_CHANGED))

    with pytest.raises(tickets.TicketTransitionInvalid) as caught:
        await tickets.change_status(
            session, number=ticket.number, status=TicketStatus(target), actor="agent:A2"
        )

    current = before[-1] if before else "open"
    assert caught.value.extensions == {"from_status": current, "to_status": target}
    after = await tickets.get_ticket(session, number=ticket.number)
    assert after.status == TicketStatus(current)
    assert len(after.events) == 1 + len(before)
    assert len(await notifications.pending(session, topic=tickets.STATUS_CHANGED)) == notices


async def test_an_unlinked_ticket_changes_without_a_notice(session) -> None:
    ticket = await new_ticket(session)

    await tickets.change_status(
        session, number=ticket.number, status=TicketStatus.CLOSED, actor="agent:A2"
    )

    assert await notifications.pending(session, topic=tickets.STATUS_CHANGED) == []


async def test_an_unknown_number_is_not_found(session) -> None:
    with pytest.raises(tickets.TicketNotFound):
        await tickets.get_ticket(session, number="WJ20261125-000404")
    with pytest.raises(tickets.TicketNotFound):
        await tickets.change_status(
            session, number="WJ20261125-000404", status=TicketStatus.CLOSED, actor="agent:A2"
        )


async def test_two_agents_closing_at_once_close_it_once(committed_db: Database) -> None:
    async with committed_db.unit_of_work() as session:
        ticket = await new_ticket(session, await a_resident(session))

    async def close(agent: str) -> object:
        try:
            async with committed_db.unit_of_work() as session:
                return await tickets.change_status(
                    session, number=ticket.number, status=TicketStatus.CLOSED, actor=agent
                )
        except tickets.TicketError as refusal:
            return refusal

    outcomes = await asyncio.gather(*(close(f"agent:A{n}") for n in range(4)))

    won = [o for o in outcomes if isinstance(o, tickets.TicketOut)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, tickets.TicketTransitionInvalid) for o in outcomes if o not in won)
    async with committed_db.unit_of_work() as session:
        final = await tickets.get_ticket(session, number=ticket.number)
        sent = await notifications.pending(session, topic=tickets.STATUS_CHANGED)
    assert [e.to_status for e in final.events] == [TicketStatus.OPEN, TicketStatus.CLOSED]
    assert [m.payload["status"] for m in sent] == ["closed"]


# --- rating ------------------------------------------------------------------------------------


async def test_a_ticket_is_rated_once_and_only_when_closed(session) -> None:
    ticket = await new_ticket(session)

    with pytest.raises(tickets.TicketNotClosed):
        await tickets.rate_ticket(session, number=ticket.number, rating=5)
    await tickets.change_status(
        session, number=ticket.number, status=TicketStatus.IN_PROGRESS, actor="agent:A2"
    )
    await tickets.change_status(
        session, number=ticket.number, status=TicketStatus.RESOLVED, actor="agent:A2"
    )
    with pytest.raises(tickets.TicketNotClosed):
        await tickets.rate_ticket(session, number=ticket.number, rating=5)
    await tickets.change_status(
        session, number=ticket.number, status=TicketStatus.CLOSED, actor="agent:A2"
    )
    for wrong in (0, 6, -1, True):
        with pytest.raises(tickets.InvalidTicket):
            await tickets.rate_ticket(session, number=ticket.number, rating=wrong)
    rated = await tickets.rate_ticket(session, number=ticket.number, rating=3)
    with pytest.raises(tickets.TicketAlreadyRated):
        await tickets.rate_ticket(session, number=ticket.number, rating=5)

    assert (rated.rating, rated.rated_at) == (3, MORNING)
    assert (await tickets.get_ticket(session, number=ticket.number)).rating == 3


# --- residents see their own -------------------------------------------------------------------


async def test_a_resident_lists_only_their_own_tickets(session) -> None:
    mine = await a_resident(session)
    theirs = await a_resident(session, "13987654321")
    own = [await new_ticket(session, mine) for _ in range(3)]
    await new_ticket(session, theirs)
    await new_ticket(session)

    first = await tickets.resident_tickets(session, resident_id=mine, limit=2)
    rest = await tickets.resident_tickets(
        session, resident_id=mine, cursor=first.next_cursor, limit=2
    )

    assert [t.number for t in first.items + rest.items] == [t.number for t in reversed(own)]
    assert rest.next_cursor is None
    assert [t.number for t in (await tickets.unfinished_tickets(session, resident_id=theirs))] == [
        "WJ20261125-000004"
    ]


async def test_the_app_lists_my_tickets_and_nobody_elses(client, session) -> None:
    me = await make_resident(session)
    other = await make_resident(session, phone="13987654321")
    mine = await new_ticket(session, me.id)
    await new_ticket(session, other.id)

    response = await client.get("/v1/me/tickets", headers=me.headers)
    anonymous = await client.get("/v1/me/tickets")
    garbage = await client.get("/v1/me/tickets?cursor=nope", headers=me.headers)

    assert response.status_code == 200, response.text
    assert [t["number"] for t in response.json()["items"]] == [mine.number]
    assert response.json()["items"][0]["resident_id"] == str(me.id)
    assert response.json()["next_cursor"] is None
    assert anonymous.status_code == 401
    assert problem_of(garbage)["type"].endswith("invalid-cursor")


# --- co-governance points: the normal award path ------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "behaviour", "role", "points_"),
    [
        (TicketKind.REPORT, "city-problem-report", "awarder", 5),
        (TicketKind.SUGGESTION, "hotline-suggestion-adopted", "approver", 20),
    ],
)
async def test_a_verified_report_or_adopted_suggestion_earns_co_governance_points(
    client, session, kind, behaviour, role, points_
) -> None:
    document = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    await points.publish_behaviours(session, document=document, published_by="test")
    resident = await make_resident(session)
    staff = await make_staff(session, "grid.worker", [(role, "songling")])
    ticket = await new_ticket(session, resident.id, kind=kind)
    await tickets.change_status(
        session, number=ticket.number, status=TicketStatus.CLOSED, actor="agent:A2"
    )

    response = await client.post(
        "/v1/staff/awards",
        json={
            "resident_id": str(resident.id),
            "behaviour": behaviour,
            "community": "songling",
            "evidence": {"note": f"12345 工单 {ticket.number} 已核实"},
        },
        headers={**staff.headers, "Idempotency-Key": f"ticket:{ticket.number}"},
    )

    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["points"]) == ("posted", points_)
    account = await ledger.get_account(session, code=wallet(resident.id))
    assert account.balance == points_
    summary = await points.points_summary(session, resident_id=resident.id)
    assert summary.by_category.cogovernance == points_
