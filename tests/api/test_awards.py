"""Awarding points over HTTP: a resident shows their earning code, a staff member scans it.

Covers the code (expiry, tampering, one award per behaviour), the staff member's role and
community scope, evidence, quantities, caps in Wujiang's local calendar, the daily budget, and
the outbox row each posted award writes."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

import ledger
import notifications
import points
from api.principal import STAFF_SCOPE
from core import clock
from core.settings import get_settings
from identity import sessions
from identity.clients import STAFF_CLIENT_ID
from identity.tokens import STAFF_ACR
from points.accounts import wallet
from tests.helpers import problem_of
from tests.points_actors import Actor, make_resident, make_staff

# 2026-11-25 10:00 in Wujiang (UTC+8).
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def at_morning(redis):
    with clock.frozen(MORNING):
        yield


@pytest.fixture
async def programme(session, at_morning):
    text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    await points.publish_behaviours(session, document=text, published_by="test")
    resident = await make_resident(session)
    awarder = await make_staff(session, "zhang.min", [("awarder", "songling")])
    return resident, awarder


def award_body(**overrides):
    return {"behaviour": "tree-planting", "quantity": "1", "community": "songling", **overrides}


async def post_award(client, staff: Actor, key: str | None = None, **body):
    headers = {**staff.headers, "Idempotency-Key": key or str(uuid.uuid4())}
    return await client.post("/v1/staff/awards", json=award_body(**body), headers=headers)


async def code_of(client, resident: Actor) -> str:
    response = await client.get("/v1/me/points/code", headers=resident.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["code"])


def refusal(response, status: int, kind: str) -> dict:
    problem = problem_of(response)
    assert response.status_code == status, response.text
    assert problem["type"].rsplit(":", 1)[-1] == kind, problem
    return problem


async def signed_in_again(session, staff: Actor) -> Actor:
    """A fresh token for `staff` (after the clock moved past the old one's life)."""
    tokens = await sessions.start(
        session,
        subject_type="staff",
        subject=str(staff.id),
        client_id=STAFF_CLIENT_ID,
        channel="staff",
        assurance=STAFF_ACR,
        scope=STAFF_SCOPE,
    )
    return Actor(staff.id, tokens.access_token)


async def balance_of(session, resident: Actor) -> int:
    return (await ledger.get_account(session, code=wallet(resident.id))).balance


# --- the earning code -----------------------------------------------------------------------


async def test_a_scanned_code_awards_points_once(client, session, programme) -> None:
    resident, awarder = programme
    code = await code_of(client, resident)
    key = str(uuid.uuid4())

    first = await post_award(client, awarder, key, code=code)
    again = await post_award(client, awarder, key, code=code)

    assert first.status_code == 201, first.text
    assert first.json()["status"] == "posted"
    assert first.json()["points"] == 10
    assert first.json()["resident_id"] == str(resident.id)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await balance_of(session, resident) == 10
    sent = await notifications.pending(session, topic="points.awarded")
    assert [m.payload["points"] for m in sent] == [10]

    reused = await post_award(client, awarder, code=code)
    refusal(reused, 409, "earn-code-used")


async def test_one_code_may_earn_two_different_behaviours(client, session, programme) -> None:
    resident, awarder = programme
    code = await code_of(client, resident)

    trees = await post_award(client, awarder, code=code)
    patrol = await post_award(client, awarder, code=code, behaviour="river-patrol")
    patrol_again = await post_award(client, awarder, code=code, behaviour="river-patrol")

    assert (trees.status_code, patrol.status_code) == (201, 201), patrol.text
    refusal(patrol_again, 409, "earn-code-used")
    assert await balance_of(session, resident) == 15


async def test_a_screenshot_stops_working_after_about_a_minute(client, programme) -> None:
    resident, awarder = programme
    code = await code_of(client, resident)

    clock.advance(timedelta(seconds=66))
    late = await post_award(client, awarder, code=code)

    problem = refusal(late, 422, "invalid-earn-code")
    assert "expired" in problem["detail"]
    fresh = await code_of(client, resident)
    assert (await post_award(client, awarder, code=fresh)).status_code == 201


def _flip(text: str, position: int) -> str:
    swapped = "B" if text[position] != "B" else "C"
    return text[:position] + swapped + text[position + 1 :]


TAMPERINGS = {
    "payload char": lambda c, o: ".".join(
        [c.split(".")[0], _flip(c.split(".")[1], 3), c.split(".")[2]]
    ),
    "payload last char": lambda c, o: ".".join(
        [c.split(".")[0], _flip(c.split(".")[1], -1), c.split(".")[2]]
    ),
    "mac char": lambda c, o: ".".join([*c.split(".")[:2], _flip(c.split(".")[2], 0)]),
    "mac last char": lambda c, o: ".".join([*c.split(".")[:2], _flip(c.split(".")[2], -1)]),
    "other's payload": lambda c, o: ".".join([c.split(".")[0], o.split(".")[1], c.split(".")[2]]),
    "other's mac": lambda c, o: ".".join([*c.split(".")[:2], o.split(".")[2]]),
    "truncated": lambda c, o: c[:-4],
    "padded": lambda c, o: c + "==",
    "wrong prefix": lambda c, o: "WJE0" + c[4:],
    "no prefix": lambda c, o: c.split(".", 1)[1],
    "huge": lambda c, o: c * 2000,
    "non-ascii": lambda c, o: c[:-1] + "码",
    "empty": lambda c, o: "",
    "whitespace": lambda c, o: f" {c} ",
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
async def test_an_edited_code_is_refused(client, session, programme, how) -> None:
    resident, awarder = programme
    other = await make_resident(session, phone="13900001111")
    code, others = await code_of(client, resident), await code_of(client, other)

    response = await post_award(client, awarder, code=TAMPERINGS[how](code, others))

    refusal(response, 422, "invalid-earn-code")


async def test_random_edits_never_award_and_never_fail_badly(client, session, programme) -> None:
    resident, awarder = programme
    code = await code_of(client, resident)
    rng = random.Random(20261125)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é码\x00"
    for _ in range(40):
        edited = list(code)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(edited))
            action = rng.choice(["replace", "delete", "insert"])
            if action == "delete":
                del edited[position]
            elif action == "insert":
                edited.insert(position, rng.choice(alphabet))
            else:
                edited[position] = rng.choice(alphabet)
        candidate = "".join(edited)
        if candidate == code:
            continue
        response = await post_award(client, awarder, code=candidate)
        refusal(response, 422, "invalid-earn-code")
    assert (await post_award(client, awarder, code=code)).status_code == 201


@pytest.mark.parametrize(
    ("escaped", "kind"),
    [
        ("\\ud800", "invalid-earn-code"),
        # NUL is refused in any text of any request, before the programme sees it.
        ("\\u0000", "validation-error"),
        ("\\u202e", "invalid-earn-code"),
        ("\\t", "invalid-earn-code"),
    ],
)
async def test_escaped_oddities_in_a_code_are_refused(client, programme, escaped, kind) -> None:
    resident, awarder = programme
    code = await code_of(client, resident)
    raw = (
        '{"behaviour": "tree-planting", "community": "songling", '
        f'"code": "{code[:10]}{escaped}{code[10:]}"}}'
    )
    headers = {**awarder.headers, "Idempotency-Key": "odd", "Content-Type": "application/json"}

    response = await client.post("/v1/staff/awards", content=raw.encode(), headers=headers)

    refusal(response, 422, kind)


async def test_a_code_for_a_resident_who_does_not_exist_is_refused(client, programme) -> None:
    _, awarder = programme
    code = points.issue_earn_code(uuid.uuid4()).code

    refusal(await post_award(client, awarder, code=code), 404, "unknown-resident")


# --- the request ----------------------------------------------------------------------------


async def test_a_counter_award_names_the_resident(client, session, programme) -> None:
    resident, awarder = programme

    response = await post_award(client, awarder, resident_id=str(resident.id))

    assert response.status_code == 201, response.text
    assert response.json()["staff_id"] == str(awarder.id)
    assert response.json()["source"] == "staff"
    assert await balance_of(session, resident) == 10
    refusal(
        await post_award(client, awarder, resident_id=str(uuid.uuid4())), 404, "unknown-resident"
    )


async def test_exactly_one_of_code_and_resident_id(client, programme) -> None:
    resident, awarder = programme
    code = await code_of(client, resident)

    both = await post_award(client, awarder, code=code, resident_id=str(resident.id))
    neither = await post_award(client, awarder)

    refusal(both, 422, "validation-error")
    refusal(neither, 422, "validation-error")


@pytest.mark.parametrize("key", [None, "", "k" * 201, "tab\tinside"])
async def test_the_idempotency_key_is_required_and_sane(client, programme, key) -> None:
    resident, awarder = programme
    headers = dict(awarder.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = award_body(resident_id=str(resident.id))

    response = await client.post("/v1/staff/awards", json=body, headers=headers)

    assert response.status_code == 422, response.text
    problem_of(response)


async def test_a_key_reused_for_another_award_is_refused(client, programme) -> None:
    resident, awarder = programme
    key = str(uuid.uuid4())

    first = await post_award(client, awarder, key, resident_id=str(resident.id))
    other = await post_award(client, awarder, key, resident_id=str(resident.id), quantity="2")

    assert first.status_code == 201
    refusal(other, 422, "idempotency-key-reused")


async def test_keys_belong_to_one_staff_member(client, session, programme) -> None:
    resident, awarder = programme
    colleague = await make_staff(session, "li.hua", [("awarder", "songling")])
    key = str(uuid.uuid4())

    mine = await post_award(client, awarder, key, resident_id=str(resident.id))
    theirs = await post_award(client, colleague, key, resident_id=str(resident.id))

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_unknown_and_inactive_behaviours(client, session, programme) -> None:
    resident, awarder = programme
    rid = str(resident.id)

    unknown = await post_award(client, awarder, resident_id=rid, behaviour="moon-landing")
    with clock.frozen(datetime(2026, 2, 1, 2, 0, tzinfo=UTC)):  # before taihu-clean-up starts
        awarder = await signed_in_again(session, awarder)
        early = await post_award(client, awarder, resident_id=rid, behaviour="taihu-clean-up")

    refusal(unknown, 404, "unknown-behaviour")
    refusal(early, 422, "behaviour-not-active")


# --- who may award --------------------------------------------------------------------------


async def test_an_awarder_of_another_community_is_refused(client, session, programme) -> None:
    resident, _ = programme
    elsewhere = await make_staff(session, "wang.fang", [("awarder", "pingwang")])

    response = await post_award(client, elsewhere, resident_id=str(resident.id))

    problem = refusal(response, 403, "not-certifier")
    assert problem["community"] == "songling"
    ok = await post_award(client, elsewhere, resident_id=str(resident.id), community="pingwang")
    assert ok.status_code == 201


async def test_a_district_wide_awarder_awards_anywhere(client, session, programme) -> None:
    resident, _ = programme
    district = await make_staff(session, "chen.jie", [("awarder", "*")])

    response = await post_award(client, district, resident_id=str(resident.id), community="lili")

    assert response.status_code == 201, response.text


async def test_feed_behaviours_and_other_roles_behaviours_are_refused(client, programme) -> None:
    resident, awarder = programme
    rid = str(resident.id)

    feed = await post_award(client, awarder, resident_id=rid, behaviour="garbage-sorting")
    approver_only = await post_award(
        client,
        awarder,
        resident_id=rid,
        behaviour="hotline-suggestion-adopted",
        evidence={"note": "adopted by the water bureau"},
    )

    assert refusal(feed, 403, "not-certifier")["certified_by"] == "feed:garbage-sorting"
    assert refusal(approver_only, 403, "not-certifier")["certified_by"] == "approver"


async def test_residents_and_anonymous_callers_cannot_award(client, programme) -> None:
    resident, _ = programme
    body = award_body(resident_id=str(resident.id))
    key = {"Idempotency-Key": str(uuid.uuid4())}

    as_resident = await client.post(
        "/v1/staff/awards", json=body, headers={**resident.headers, **key}
    )
    anonymous = await client.post("/v1/staff/awards", json=body, headers=key)

    assert as_resident.status_code == 403
    assert anonymous.status_code == 401


async def test_a_staff_member_without_the_awarder_role_cannot_award(
    client, session, programme
) -> None:
    resident, _ = programme
    cashier = await make_staff(session, "zhao.lei", [("merchant_cashier", "songling")])

    response = await post_award(client, cashier, resident_id=str(resident.id))

    refusal(response, 403, "not-certifier")


# --- evidence and quantities ----------------------------------------------------------------


async def test_evidence_is_required_where_the_list_says_so(client, programme) -> None:
    resident, awarder = programme
    rid = str(resident.id)
    body = {"resident_id": rid, "behaviour": "city-problem-report"}

    bare = await post_award(client, awarder, **body)
    empty = await post_award(client, awarder, **body, evidence={})
    noted = await post_award(client, awarder, **body, evidence={"note": "manhole cover missing"})
    photo = await post_award(
        client, awarder, **body, evidence={"photo_urls": ["https://img.example/1.jpg"]}
    )

    refusal(bare, 422, "evidence-required")
    refusal(empty, 422, "validation-error")
    assert (noted.status_code, photo.status_code) == (201, 201), photo.text
    assert noted.json()["evidence"] == {"note": "manhole cover missing", "photo_urls": []}


@pytest.mark.parametrize("note", ["\\u0000", "\\ud800", "a\\u0007b"])
async def test_a_note_the_database_cannot_store_is_refused(client, programme, note) -> None:
    resident, awarder = programme
    raw = (
        f'{{"behaviour": "city-problem-report", "community": "songling", '
        f'"resident_id": "{resident.id}", "evidence": {{"note": "cover {note} missing"}}}}'
    )
    headers = {**awarder.headers, "Idempotency-Key": "n", "Content-Type": "application/json"}

    response = await client.post("/v1/staff/awards", content=raw.encode(), headers=headers)

    refusal(response, 422, "validation-error")


async def test_notes_may_span_lines_and_scripts(client, programme) -> None:
    resident, awarder = programme
    note = "井盖缺失\n松陵镇 · 东门路 12 号\tphoto to follow"

    response = await post_award(
        client,
        awarder,
        resident_id=str(resident.id),
        behaviour="city-problem-report",
        evidence={"note": note},
    )

    assert response.status_code == 201, response.text
    assert response.json()["evidence"]["note"] == note


@pytest.mark.parametrize("quantity", ["1.5", "0.999", "2.001"])
async def test_per_occurrence_behaviours_take_whole_numbers(client, programme, quantity) -> None:
    resident, awarder = programme

    response = await post_award(client, awarder, resident_id=str(resident.id), quantity=quantity)

    refusal(response, 422, "invalid-award")


@pytest.mark.parametrize("quantity", ["0", "-1", "10001", "1.0001", "abc", "NaN", "Infinity"])
async def test_quantities_outside_the_range_are_refused(client, programme, quantity) -> None:
    resident, awarder = programme

    response = await post_award(client, awarder, resident_id=str(resident.id), quantity=quantity)

    assert response.status_code == 422, response.text
    problem_of(response)


async def test_hourly_behaviours_take_fractions_rounded_down(client, programme) -> None:
    resident, awarder = programme
    rid = str(resident.id)

    hours = await post_award(
        client, awarder, resident_id=rid, behaviour="civilised-traffic", quantity="2.5"
    )
    sliver = await post_award(
        client, awarder, resident_id=rid, behaviour="civilised-traffic", quantity="0.1"
    )
    odd = await post_award(
        client, awarder, resident_id=rid, behaviour="civilised-traffic", quantity="1.3"
    )

    assert hours.status_code == 201, hours.text
    assert (hours.json()["points"], hours.json()["quantity"]) == (20, "2.5")
    refusal(sliver, 422, "invalid-award")
    assert odd.json()["points"] == 10  # 1.3 h x 8 = 10.4


# --- caps and budget ------------------------------------------------------------------------


async def test_a_day_cap_counts_in_wujiang_local_days(client, session, programme) -> None:
    resident, awarder = programme
    rid = str(resident.id)
    # 23:59 on 25 November in Wujiang is 15:59 UTC; 00:01 on the 26th is 16:01 UTC.
    with clock.frozen(datetime(2026, 11, 25, 15, 59, tzinfo=UTC)):
        awarder = await signed_in_again(session, awarder)
        late = await post_award(client, awarder, resident_id=rid, behaviour="river-patrol")
        again = await post_award(client, awarder, resident_id=rid, behaviour="river-patrol")
        clock.advance(timedelta(minutes=2))
        next_day = await post_award(client, awarder, resident_id=rid, behaviour="river-patrol")

    assert late.status_code == 201, late.text
    problem = refusal(again, 409, "cap-reached")
    assert (problem["period"], problem["cap"], problem["used"], problem["remaining"]) == (
        "day",
        5,
        5,
        0,
    )
    assert next_day.status_code == 201, next_day.text
    assert await balance_of(session, resident) == 10


async def test_a_refused_award_leaves_nothing_behind(client, session, programme) -> None:
    resident, awarder = programme
    rid = str(resident.id)
    key = str(uuid.uuid4())
    for _ in range(3):
        assert (await post_award(client, awarder, resident_id=rid)).status_code == 201

    capped = await post_award(client, awarder, key, resident_id=rid)

    problem = refusal(capped, 409, "cap-reached")
    assert (problem["period"], problem["remaining"]) == ("year", 0)
    assert await balance_of(session, resident) == 30
    sent = await notifications.pending(session, topic="points.awarded")
    assert len(sent) == 3
    awards = await session.execute(text("SELECT COUNT(*) FROM points_award"))
    assert awards.scalar_one() == 3


async def test_the_daily_budget_bounds_each_staff_member(
    client, session, programme, settings, monkeypatch
) -> None:
    resident, awarder = programme
    colleague = await make_staff(session, "li.hua", [("awarder", "songling")])
    other = await make_resident(session, phone="13900001111")
    monkeypatch.setattr(get_settings(), "points_staff_daily_budget", 25)

    first = await post_award(client, awarder, resident_id=str(resident.id))
    second = await post_award(client, awarder, resident_id=str(other.id))
    third = await post_award(client, awarder, resident_id=str(other.id), behaviour="river-patrol")
    over = await post_award(client, awarder, resident_id=str(resident.id), behaviour="river-patrol")
    theirs = await post_award(client, colleague, resident_id=str(resident.id))
    clock.advance(timedelta(days=1))
    awarder = await signed_in_again(session, awarder)
    tomorrow = await post_award(client, awarder, resident_id=str(other.id))

    assert [r.status_code for r in (first, second, third)] == [201, 201, 201]
    problem = refusal(over, 409, "budget-exhausted")
    assert (problem["budget"], problem["used"], problem["remaining"]) == (25, 25, 0)
    assert theirs.status_code == 201
    assert tomorrow.status_code == 201, tomorrow.text


# --- rankings -------------------------------------------------------------------------------


async def test_awards_reach_the_ranking_of_residents_who_opted_in(
    client, session, programme
) -> None:
    resident, awarder = programme
    other = await make_resident(session, phone="13912345678")
    chosen = await client.put(
        "/v1/me/points/ranking",
        json={"opt_in": True, "community": "songling"},
        headers=resident.headers,
    )
    assert chosen.status_code == 200, chosen.text

    for who in (resident, other):
        response = await post_award(client, awarder, resident_id=str(who.id))
        assert response.status_code == 201, response.text
    approver = await make_staff(session, "wang.fang", [("approver", "songling")])
    first = await post_award(
        client, awarder, resident_id=str(resident.id), behaviour="river-patrol"
    )
    assert first.status_code == 201, first.text
    reversed_ = await client.post(
        f"/v1/staff/awards/{first.json()['id']}/reversal",
        json={"reason": "entered twice"},
        headers=approver.headers,
    )
    assert reversed_.status_code == 200, reversed_.text

    ranking = await client.get("/v1/points/rankings/songling", headers=resident.headers)

    assert ranking.status_code == 200, ranking.text
    entries = ranking.json()["entries"]
    assert [(e["points"], e["me"]) for e in entries] == [(10, True)]
    # The one entry is the opted-in resident, masked; the other resident's award is not ranked.
    assert entries[0]["display_name"].endswith(str(resident.id)[-4:])
    assert str(resident.id) not in ranking.text


async def test_awards_before_any_behaviour_list_is_published(client, session, at_morning) -> None:
    resident = await make_resident(session)
    awarder = await make_staff(session, "zhang.min", [("awarder", "songling")])

    response = await post_award(client, awarder, resident_id=str(resident.id))

    refusal(response, 404, "no-behaviour-list")
