"""Maker-checker over HTTP: awards above the threshold wait for a second staff member with the
approver role; approvers reverse awards (never more than remains) and review fraud flags."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

import ledger
import notifications
import points
from core import clock
from core.settings import get_settings
from points.accounts import open_redeemed, wallet
from tests.api.test_awards import MORNING, balance_of, post_award, refusal
from tests.helpers import problem_of
from tests.points_actors import make_resident, make_staff


@pytest.fixture
async def team(session, redis, settings, monkeypatch):
    """A resident; a maker who is also an approver; a second approver in the same community;
    an approver elsewhere. Awards above 5 points need approval."""
    monkeypatch.setattr(get_settings(), "points_approval_threshold", 5)
    with clock.frozen(MORNING):
        text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
        await points.publish_behaviours(session, document=text, published_by="test")
        yield {
            "resident": await make_resident(session),
            "maker": await make_staff(
                session, "zhang.min", [("awarder", "songling"), ("approver", "songling")]
            ),
            "checker": await make_staff(session, "li.na", [("approver", "songling")]),
            "checker2": await make_staff(session, "sun.yu", [("approver", "*")]),
            "outsider": await make_staff(session, "wang.fang", [("approver", "pingwang")]),
            "awarder": await make_staff(session, "zhao.lei", [("awarder", "songling")]),
        }


async def decide(client, staff, award_id, action, reason: str | None = "checked"):
    body = None if reason is None else {"reason": reason}
    return await client.post(
        f"/v1/staff/awards/{award_id}/{action}", json=body, headers=staff.headers
    )


async def pending_award(client, team, **body) -> dict:
    response = await post_award(client, team["maker"], resident_id=str(team["resident"].id), **body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return dict(response.json())


async def used(client, team, behaviour: str = "tree-planting") -> dict:
    """The room left, read by asking for more than any cap allows (refused, changes nothing)."""
    response = await post_award(
        client,
        team["awarder"],
        resident_id=str(team["resident"].id),
        behaviour=behaviour,
        quantity="1000",
    )
    return refusal(response, 409, "cap-reached")


# --- approving --------------------------------------------------------------------------------


async def test_a_large_award_waits_then_a_second_staff_member_approves_it(
    client, session, team
) -> None:
    award = await pending_award(client, team)
    assert award["points"] == 10
    assert await notifications.pending(session, topic="points.awarded") == []
    listed = await client.get("/v1/staff/awards/pending", headers=team["checker"].headers)
    assert [a["id"] for a in listed.json()["items"]] == [award["id"]]

    approved = await decide(client, team["checker"], award["id"], "approve")

    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["decided_by"]) == ("posted", str(team["checker"].id))
    assert body["decision_reason"] == "checked"
    assert body["entry_id"] is not None
    assert await balance_of(session, team["resident"]) == 10
    sent = await notifications.pending(session, topic="points.awarded")
    assert [m.payload["award_id"] for m in sent] == [award["id"]]
    listed = await client.get("/v1/staff/awards/pending", headers=team["checker"].headers)
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_an_award_at_the_threshold_posts_at_once(client, session, team) -> None:
    response = await post_award(
        client, team["maker"], resident_id=str(team["resident"].id), behaviour="river-patrol"
    )

    assert response.json()["status"] == "posted"
    assert await balance_of(session, team["resident"]) == 5


async def test_approval_may_come_without_a_body(client, team) -> None:
    award = await pending_award(client, team)

    response = await decide(client, team["checker"], award["id"], "approve", reason=None)

    assert response.json()["status"] == "posted"


async def test_the_maker_cannot_approve_their_own_award(client, team) -> None:
    award = await pending_award(client, team)

    approve = await decide(client, team["maker"], award["id"], "approve")
    reject = await decide(client, team["maker"], award["id"], "reject", "changed my mind")

    refusal(approve, 403, "self-approval")
    refusal(reject, 403, "self-approval")


async def test_an_approver_elsewhere_sees_nothing(client, team) -> None:
    award = await pending_award(client, team)

    listed = await client.get("/v1/staff/awards/pending", headers=team["outsider"].headers)
    approve = await decide(client, team["outsider"], award["id"], "approve")
    unknown = await decide(client, team["checker"], uuid.uuid4(), "approve")

    assert listed.json() == {"items": [], "next_cursor": None}
    refusal(approve, 404, "award-not-found")
    refusal(unknown, 404, "award-not-found")


async def test_only_approvers_decide(client, team) -> None:
    award = await pending_award(client, team)

    response = await decide(client, team["awarder"], award["id"], "approve")
    listed = await client.get("/v1/staff/awards/pending", headers=team["awarder"].headers)

    assert response.status_code == 403
    assert listed.status_code == 403
    assert problem_of(response)["type"].endswith("insufficient-role")


async def test_an_approval_retried_replays_and_a_second_approver_is_refused(
    client, session, team
) -> None:
    award = await pending_award(client, team)

    first = await decide(client, team["checker"], award["id"], "approve")
    again = await decide(client, team["checker"], award["id"], "approve")
    late = await decide(client, team["checker2"], award["id"], "approve")
    late_reject = await decide(client, team["checker2"], award["id"], "reject", "too late")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    refusal(late, 409, "award-not-pending")
    refusal(late_reject, 409, "award-not-pending")
    assert await balance_of(session, team["resident"]) == 10


# --- rejecting --------------------------------------------------------------------------------


async def test_a_rejection_needs_a_reason_and_gives_caps_and_budget_back(
    client, session, team, settings, monkeypatch
) -> None:
    monkeypatch.setattr(get_settings(), "points_staff_daily_budget", 20)
    first = await pending_award(client, team)
    second = await pending_award(client, team)
    assert (await used(client, team))["used"] == 20
    over_budget = await post_award(client, team["maker"], resident_id=str(team["resident"].id))
    refusal(over_budget, 409, "budget-exhausted")

    bare = await decide(client, team["checker"], first["id"], "reject", reason=None)
    rejected = await decide(client, team["checker"], first["id"], "reject", "no photo of it")
    again = await decide(client, team["checker"], first["id"], "reject", "no photo of it")
    approve = await decide(client, team["checker2"], first["id"], "approve")

    assert bare.status_code == 422
    problem_of(bare)
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["decision_reason"]) == (
        "rejected",
        "no photo of it",
    )
    assert again.json() == rejected.json()
    refusal(approve, 409, "award-not-pending")
    assert (await used(client, team))["used"] == 10
    third = await pending_award(client, team)  # the budget has room again
    assert third["points"] == 10
    assert await notifications.pending(session, topic="points.awarded") == []
    told = await notifications.pending(session, topic="points.award_rejected")
    assert [m.payload["award_id"] for m in told] == [first["id"]]
    assert second["id"] != third["id"]


# --- reversing --------------------------------------------------------------------------------


async def spend(session, resident, amount: int) -> None:
    """The resident spends `amount` at a shop: a hold on the wallet, then posted."""
    shop = await open_redeemed(session, "test-shop")
    held = await ledger.hold(
        session,
        key=f"spend:{uuid.uuid4()}",
        source=wallet(resident.id),
        amount=amount,
        expires_at=clock.now() + timedelta(minutes=10),
        actor="resident",
    )
    await ledger.post_hold(session, hold_id=held.id, destination=shop, amount=amount, actor="shop")


async def reverse(client, staff, award_id, reason="certified by mistake", points=None):
    body = {"reason": reason} | ({} if points is None else {"points": points})
    return await client.post(
        f"/v1/staff/awards/{award_id}/reversal", json=body, headers=staff.headers
    )


async def test_a_reversal_takes_back_no_more_than_remains(client, session, team) -> None:
    resident = team["resident"]
    with clock.frozen(MORNING):
        award = await post_award(
            client, team["awarder"], resident_id=str(resident.id), behaviour="river-patrol"
        )
        await spend(session, resident, 3)
        assert (await used(client, team, "river-patrol"))["used"] == 5

        whole = await reverse(client, team["checker"], award.json()["id"])
        too_many = await reverse(client, team["checker"], award.json()["id"], points=3)
        part = await reverse(client, team["checker"], award.json()["id"], points=2)
        retry = await reverse(client, team["checker"], award.json()["id"], points=2)

    problem = refusal(whole, 409, "reversal-exceeds-remaining")
    assert (problem["remaining"], problem["requested"]) == (2, 5)
    assert "2" in problem["detail"]
    refusal(too_many, 409, "reversal-exceeds-remaining")
    assert part.status_code == 200, part.text
    assert (part.json()["reversed_points"], part.json()["reversal_reason"]) == (
        2,
        "certified by mistake",
    )
    assert retry.status_code == 200
    assert retry.json() == part.json()
    assert await balance_of(session, resident) == 0
    assert (await used(client, team, "river-patrol"))["used"] == 3
    told = await notifications.pending(session, topic="points.reversed")
    assert [m.payload["points"] for m in told] == [2]
    assert (await ledger.verify(session)).ok


async def test_a_whole_reversal_of_an_unspent_award(client, session, team) -> None:
    award = await post_award(
        client, team["awarder"], resident_id=str(team["resident"].id), behaviour="river-patrol"
    )

    whole = await reverse(client, team["checker"], award.json()["id"])
    again = await reverse(client, team["checker"], award.json()["id"], points=1)

    assert whole.json()["reversed_points"] == 5
    assert await balance_of(session, team["resident"]) == 0
    assert again.status_code == 409
    problem_of(again)


async def test_only_approvers_of_the_community_reverse_posted_awards(client, team) -> None:
    posted = await post_award(
        client, team["awarder"], resident_id=str(team["resident"].id), behaviour="river-patrol"
    )
    waiting = await pending_award(client, team)

    outsider = await reverse(client, team["outsider"], posted.json()["id"])
    awarder = await reverse(client, team["awarder"], posted.json()["id"])
    pending = await reverse(client, team["checker"], waiting["id"])
    too_big = await reverse(client, team["checker"], posted.json()["id"], points=6)
    no_reason = await client.post(
        f"/v1/staff/awards/{posted.json()['id']}/reversal",
        json={},
        headers=team["checker"].headers,
    )

    refusal(outsider, 404, "award-not-found")
    assert awarder.status_code == 403
    refusal(pending, 409, "award-not-reversible")
    refusal(too_big, 409, "award-not-reversible")
    assert no_reason.status_code == 422


# --- fraud flags --------------------------------------------------------------------------------


async def flags_for(client, staff, reviewed: bool = False) -> list[dict]:
    response = await client.get(
        "/v1/staff/flags", params={"reviewed": reviewed}, headers=staff.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_repeated_awards_to_one_resident_are_flagged(client, session, team) -> None:
    resident = team["resident"]
    for _ in range(5):
        response = await post_award(
            client,
            team["awarder"],
            resident_id=str(resident.id),
            behaviour="civilised-traffic",
            quantity="0.5",
        )
        assert response.status_code == 201, response.text

    seen = await flags_for(client, team["checker"])
    elsewhere = await flags_for(client, team["outsider"])

    assert [f["kind"] for f in seen] == ["repeat_pair"]
    assert seen[0]["award_id"] == response.json()["id"]
    assert seen[0]["staff_id"] == str(team["awarder"].id)
    assert elsewhere == []
    reviewed = await client.post(
        f"/v1/staff/flags/{seen[0]['id']}/review",
        json={"note": "a busy volunteer week"},
        headers=team["checker"].headers,
    )
    outsider = await client.post(
        f"/v1/staff/flags/{seen[0]['id']}/review",
        json={"note": "not mine"},
        headers=team["outsider"].headers,
    )
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["review_note"] == "a busy volunteer week"
    assert reviewed.json()["reviewed_by"] == str(team["checker"].id)
    refusal(outsider, 404, "award-not-found")
    assert await flags_for(client, team["checker"]) == []
    assert [f["id"] for f in await flags_for(client, team["checker"], reviewed=True)] == [
        seen[0]["id"]
    ]


async def test_awards_faster_than_a_person_certifies_are_flagged(client, session, team) -> None:
    residents = [await make_resident(session, phone=f"1390000{i:04d}") for i in range(10)]
    with clock.frozen(MORNING):
        for resident in residents[:9]:
            response = await post_award(client, team["awarder"], resident_id=str(resident.id))
            assert response.status_code == 201, response.text
            clock.advance(timedelta(seconds=5))
        assert await flags_for(client, team["checker"]) == []
        last = await post_award(client, team["awarder"], resident_id=str(residents[9].id))

    seen = await flags_for(client, team["checker"])

    assert [(f["kind"], f["award_id"]) for f in seen] == [("burst", last.json()["id"])]


async def test_awards_spread_over_more_than_a_minute_are_not_a_burst(client, session, team) -> None:
    residents = [await make_resident(session, phone=f"1390000{i:04d}") for i in range(10)]
    with clock.frozen(MORNING):
        for resident in residents:
            response = await post_award(client, team["awarder"], resident_id=str(resident.id))
            assert response.status_code == 201, response.text
            clock.advance(timedelta(seconds=7))

    assert await flags_for(client, team["checker"]) == []


async def test_reasons_and_notes_the_database_cannot_store_are_refused(client, team) -> None:
    award = await pending_award(client, team)
    headers = {**team["checker"].headers, "Content-Type": "application/json"}
    raw = b'{"reason": "bad \\u0000 reason"}'

    reject = await client.post(
        f"/v1/staff/awards/{award['id']}/reject", content=raw, headers=headers
    )
    approve = await client.post(
        f"/v1/staff/awards/{award['id']}/approve", content=raw, headers=headers
    )
    review = await client.post(
        f"/v1/staff/flags/{uuid.uuid4()}/review", content=b'{"note": "\\ud800"}', headers=headers
    )

    for response in (reject, approve, review):
        refusal(response, 422, "validation-error")


async def test_rejecting_names_its_refusals(client, team) -> None:
    award = await pending_award(client, team)

    no_reason = await client.post(
        f"/v1/staff/awards/{award['id']}/reject", json={}, headers=team["checker"].headers
    )
    unknown = await decide(client, team["checker"], uuid.uuid4(), "reject", "no such award")
    outside = await decide(client, team["outsider"], award["id"], "reject", "not ours")

    refusal(no_reason, 422, "invalid-award")
    refusal(unknown, 404, "award-not-found")
    refusal(outside, 404, "award-not-found")
