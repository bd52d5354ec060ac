"""Awards racing each other with real commits: caps, budgets, idempotency keys, earning codes
and decisions hold under concurrent requests, and every caller gets a clean answer (never 500).

Afterwards the ledger verifies, and each wallet holds exactly what its posted awards say."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest
from sqlalchemy import text

import ledger
import notifications
import points
from core import clock
from core.settings import get_settings
from points.accounts import wallet
from tests.points_actors import Actor, make_resident, make_staff


@pytest.fixture
async def world(committed_db, redis):
    """The published list, four residents, three awarders and three approvers in songling."""
    async with committed_db.unit_of_work() as s:
        text_ = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
        await points.publish_behaviours(s, document=text_, published_by="test")
        residents = [await make_resident(s, phone=f"1380000{i:04d}") for i in range(4)]
        awarders = [
            await make_staff(s, f"awarder.{i}", [("awarder", "songling")]) for i in range(3)
        ]
        approvers = [
            await make_staff(s, f"approver.{i}", [("approver", "songling")]) for i in range(3)
        ]
    return {"residents": residents, "awarders": awarders, "approvers": approvers}


async def award(client, staff: Actor, key: str | None = None, **body):
    payload = {"behaviour": "tree-planting", "quantity": "1", "community": "songling", **body}
    headers = {**staff.headers, "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/v1/staff/awards", json=payload, headers=headers)


def kinds(responses) -> Counter[str]:
    """Each answer as its status, or status and problem type; a 500 fails the test at once."""
    seen: Counter[str] = Counter()
    for response in responses:
        assert response.status_code < 500, response.text
        if response.status_code < 300:
            seen[str(response.status_code)] += 1
        else:
            seen[f"{response.status_code} {response.json()['type'].rsplit(':', 1)[-1]}"] += 1
    return seen


async def check_books(committed_db) -> dict[uuid.UUID, int]:
    """The ledger verifies, and every wallet equals its posted awards less their reversals,
    with one `points.awarded` outbox row per posted award. Returns the balances."""
    async with committed_db.unit_of_work() as s:
        report = await ledger.verify(s)
        rows = (
            await s.execute(
                text(
                    "SELECT resident_id, SUM(points - reversed_points), COUNT(*) "
                    "FROM points_award WHERE status = 'posted' GROUP BY resident_id"
                )
            )
        ).all()
        balances = {}
        for resident_id, expected, _ in rows:
            resident = uuid.UUID(str(resident_id))
            balances[resident] = await ledger.balance(s, account=wallet(resident))
            assert balances[resident] == expected
        sent = await notifications.pending(s, topic="points.awarded")
    assert report.ok, report.violations
    assert len(sent) == sum(count for _, _, count in rows)
    return balances


async def test_racing_awards_never_pass_a_day_cap(committed_client, committed_db, world) -> None:
    resident = world["residents"][0]
    staff = world["awarders"]
    # elderly-care-visit: 10 points an hour, at most 40 a day.
    responses = await asyncio.gather(
        *(
            award(
                committed_client,
                staff[i % len(staff)],
                resident_id=str(resident.id),
                behaviour="elderly-care-visit",
            )
            for i in range(20)
        )
    )

    assert kinds(responses) == {"201": 4, "409 cap-reached": 16}
    balances = await check_books(committed_db)
    assert balances[resident.id] == 40


async def test_racing_awards_never_pass_a_staff_budget(
    committed_client, committed_db, world, settings, monkeypatch
) -> None:
    monkeypatch.setattr(get_settings(), "points_staff_daily_budget", 55)
    async with committed_db.unit_of_work() as s:
        residents = [await make_resident(s, phone=f"1390000{i:04d}") for i in range(20)]
    awarder = world["awarders"][0]

    responses = await asyncio.gather(
        *(award(committed_client, awarder, resident_id=str(r.id)) for r in residents)
    )

    assert kinds(responses) == {"201": 5, "409 budget-exhausted": 15}
    balances = await check_books(committed_db)
    assert sum(balances.values()) == 50


async def test_one_key_sent_ten_times_at_once_awards_once(
    committed_client, committed_db, world
) -> None:
    resident, awarder = world["residents"][0], world["awarders"][0]
    key = str(uuid.uuid4())

    responses = await asyncio.gather(
        *(award(committed_client, awarder, key, resident_id=str(resident.id)) for _ in range(10))
    )

    assert kinds(responses) == {"201": 10}
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    balances = await check_books(committed_db)
    assert balances[resident.id] == 10


async def test_one_code_scanned_by_two_staff_at_once_awards_once(
    committed_client, committed_db, world
) -> None:
    resident = world["residents"][0]
    with clock.frozen(clock.now()):
        code = points.issue_earn_code(resident.id).code
        responses = await asyncio.gather(
            *(award(committed_client, staff, code=code) for staff in world["awarders"][:2] * 3)
        )

    assert kinds(responses) == {"201": 1, "409 earn-code-used": 5}
    balances = await check_books(committed_db)
    assert balances[resident.id] == 10


async def test_a_mixed_crowd_keeps_every_cap_budget_and_balance(
    committed_client, committed_db, world, settings, monkeypatch
) -> None:
    monkeypatch.setattr(get_settings(), "points_staff_daily_budget", 60)
    residents, awarders = world["residents"], world["awarders"]
    behaviours = ["river-patrol", "elderly-care-visit", "tree-planting", "community-consultation"]
    keys = [str(uuid.uuid4()) for _ in range(8)]
    calls = [
        award(
            committed_client,
            awarders[i % 3],
            keys[i % 8] if i % 5 == 0 else None,
            resident_id=str(residents[i % 4].id),
            behaviour=behaviours[(i // 4) % 4],
        )
        for i in range(40)
    ]

    responses = await asyncio.gather(*calls)

    kinds(responses)
    await check_books(committed_db)
    async with committed_db.unit_of_work() as s:
        budgets = (await s.execute(text("SELECT points FROM points_staff_budget_usage"))).all()
        over_caps = (
            await s.execute(
                text(
                    "SELECT COUNT(*) FROM points_cap_usage u "
                    "WHERE (u.behaviour_code = 'river-patrol' AND u.period LIKE 'd%' "
                    "AND u.points > 5) OR (u.behaviour_code = 'elderly-care-visit' "
                    "AND u.period LIKE 'd%' AND u.points > 40) "
                    "OR (u.behaviour_code = 'community-consultation' AND u.period LIKE 'w%' "
                    "AND u.points > 10)"
                )
            )
        ).scalar_one()
        by_staff = (
            await s.execute(
                text("SELECT staff_id, SUM(points) FROM points_award GROUP BY staff_id")
            )
        ).all()
    assert all(points_ <= 60 for (points_,) in budgets)
    assert all(total <= 60 for _, total in by_staff)
    assert over_caps == 0


async def test_racing_approvers_decide_an_award_once(
    committed_client, committed_db, world, settings, monkeypatch
) -> None:
    monkeypatch.setattr(get_settings(), "points_approval_threshold", 5)
    resident, awarder = world["residents"][0], world["awarders"][0]
    made = await award(committed_client, awarder, resident_id=str(resident.id))
    assert made.json()["status"] == "pending"
    url = f"/v1/staff/awards/{made.json()['id']}"

    responses = await asyncio.gather(
        *(
            committed_client.post(
                f"{url}/{action}", json={"reason": "looked at it"}, headers=approver.headers
            )
            for approver in world["approvers"]
            for action in ("approve", "reject", "approve")
        )
    )

    seen = kinds(responses)
    assert seen["409 award-not-pending"] >= 6
    assert seen["200"] <= 3  # the winner, and its own identical retries
    winners = {r.json()["decided_by"] for r in responses if r.status_code == 200}
    statuses = {r.json()["status"] for r in responses if r.status_code == 200}
    assert len(winners) == 1
    assert len(statuses) == 1
    balances = await check_books(committed_db)
    assert balances.get(resident.id, 0) == (10 if statuses == {"posted"} else 0)


async def test_racing_reversals_take_points_back_once(
    committed_client, committed_db, world
) -> None:
    resident, awarder = world["residents"][0], world["awarders"][0]
    made = await award(committed_client, awarder, resident_id=str(resident.id))
    url = f"/v1/staff/awards/{made.json()['id']}/reversal"
    body = {"reason": "wrong resident", "points": 4}

    responses = await asyncio.gather(
        *(
            committed_client.post(url, json=body, headers=approver.headers)
            for approver in world["approvers"] * 3
        )
    )

    seen = kinds(responses)
    assert seen["200"] >= 1
    assert {r.json()["reversed_points"] for r in responses if r.status_code == 200} == {4}
    balances = await check_books(committed_db)
    assert balances[resident.id] == 6


async def test_reversals_racing_new_awards_for_the_same_resident(
    committed_client, committed_db, world
) -> None:
    """A reversal gives caps and budget back while new awards take them: both lock the same
    counters and the wallet, and must not deadlock."""
    resident, awarders, approvers = world["residents"][0], world["awarders"], world["approvers"]
    body = {"resident_id": str(resident.id), "behaviour": "civilised-traffic", "quantity": "0.5"}
    made = [await award(committed_client, awarders[i % 3], **body) for i in range(6)]
    assert {m.status_code for m in made} == {201}

    reversals = [
        committed_client.post(
            f"/v1/staff/awards/{m.json()['id']}/reversal",
            json={"reason": "double-counted"},
            headers=approvers[i % 3].headers,
        )
        for i, m in enumerate(made)
    ]
    awards = [award(committed_client, awarders[i % 3], **body) for i in range(12)]
    interleaved = [x for pair in zip(reversals, awards[:6], strict=True) for x in pair]
    responses = await asyncio.gather(*interleaved, *awards[6:])

    seen = kinds(responses)
    assert seen["200"] == 6
    await check_books(committed_db)
    async with committed_db.unit_of_work() as s:
        used = (
            await s.execute(
                text(
                    "SELECT points FROM points_cap_usage "
                    "WHERE behaviour_code = 'civilised-traffic' AND period LIKE 'd%'"
                )
            )
        ).scalar_one()
        live = (
            await s.execute(
                text(
                    "SELECT SUM(points - reversed_points) FROM points_award "
                    "WHERE behaviour_code = 'civilised-traffic'"
                )
            )
        ).scalar_one()
    assert used == live <= 32


async def test_a_burst_of_concurrent_awards_is_flagged_exactly(
    committed_client, committed_db, world
) -> None:
    """One staff member's awards queue on their budget row, so each sees the ones before it:
    the 10th, 11th and 12th within a minute are flagged, however the requests interleave."""
    async with committed_db.unit_of_work() as s:
        residents = [await make_resident(s, phone=f"1390000{i:04d}") for i in range(12)]
    awarder = world["awarders"][0]

    responses = await asyncio.gather(
        *(award(committed_client, awarder, resident_id=str(r.id)) for r in residents)
    )

    assert kinds(responses) == {"201": 12}
    flagged = await committed_client.get("/v1/staff/flags", headers=world["approvers"][0].headers)
    assert sorted(f["kind"] for f in flagged.json()["items"]) == ["burst"] * 3
    await check_books(committed_db)
