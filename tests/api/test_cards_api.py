"""The citizen card over HTTP: the resident's own cards and PIN in the app, and the counter."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

import citizen_card
from citizen_card.models import Card
from identity.models import Activity
from tests.api.residents import last_code
from tests.citizen_card import (
    CHIP_UIDS,
    GOOD_PIN,
    NUMBERS,
    OTHER_GOOD_PIN,
    plain,
)
from tests.citizen_card import make_resident as make_card_resident
from tests.helpers import problem_of, with_key
from tests.points_actors import Actor, make_resident, make_staff

pytestmark = pytest.mark.usefixtures("still_clock")
WRONG_PIN = "740263"


async def resident_at(session, *, verified=True, phone="13812345678", sequence=1) -> Actor:
    """A resident signed in to the app, at L2 when `verified` (the token carries it)."""
    await make_card_resident(session, phone=phone, verified=verified, sequence=sequence)
    return await make_resident(session, phone=phone)


@pytest.fixture
async def clerk(session) -> Actor:
    return await make_staff(session, "wang.clerk", [("counter_clerk", "songling")])


async def bind(client, actor, which=0):
    return await client.post(
        "/v1/me/cards",
        json={"number": NUMBERS[which], "chip_uid": CHIP_UIDS[which]},
        headers=with_key(actor.headers),
    )


async def footprint(session, resident_id) -> list[Activity]:
    rows = await session.scalars(
        select(Activity).where(Activity.resident_id == resident_id).order_by(Activity.id)
    )
    return list(rows)


def assert_problem(response, status, type_suffix):
    assert response.status_code == status, response.text
    body = problem_of(response)
    assert body["type"] == f"urn:wujiang:problem:{type_suffix}"
    return body


# --- the resident ------------------------------------------------------------------------------


async def test_a_verified_resident_binds_a_card_and_sees_it_masked(client, session):
    me = await resident_at(session)

    bound = await bind(client, me)
    listed = await client.get("/v1/me/cards", headers=me.headers)

    assert bound.status_code == 201, bound.text
    card = bound.json()
    assert card["number"] == "3205****7890"
    assert card["status"] == "active"
    assert card["pin_set"] is False
    assert listed.json() == {"items": [card], "next_cursor": None}
    for response in (bound, listed):
        assert plain(NUMBERS[0]) not in response.text
        assert "04A2B3C4D5E680" not in response.text.upper()
        assert "chip" not in response.text
    trail = await footprint(session, me.id)
    assert [(a.channel, a.action) for a in trail] == [("app", "card.bind"), ("app", "card.list")]
    assert trail[0].detail == {"card_id": card["id"]}


async def test_binding_needs_a_verified_real_name(client, session):
    me = await resident_at(session, verified=False)

    refused = await bind(client, me)

    body = assert_problem(refused, 403, "assurance-too-low")
    assert body["required"] == "real_name"
    assert (await client.get("/v1/me/cards", headers=me.headers)).json()["items"] == []


async def test_a_resident_who_just_verified_their_real_name_binds_with_the_same_token(
    client, session
):
    me = await resident_at(session, verified=False)  # signed in at L1
    verified = await client.post(
        "/v1/me/real-name",
        json={"name": "张三", "id_number": "320584199003071235"},
        headers=me.headers,
    )
    assert verified.status_code == 200, verified.text

    bound = await bind(client, me)  # the token still says L1: the account says L2

    assert bound.status_code == 201, bound.text


async def test_another_residents_card_is_taken_and_a_second_card_is_refused(client, session):
    owner = await resident_at(session)
    other = await resident_at(session, phone="13900000001", sequence=2)
    assert (await bind(client, owner)).status_code == 201

    assert_problem(await bind(client, other), 409, "card-taken")
    assert_problem(await bind(client, owner, 1), 409, "card-already-active")
    assert (await bind(client, owner)).status_code == 201  # the same card again: same answer


@pytest.mark.parametrize(
    ("field", "value", "type_suffix"),
    [
        ("number", "3205 0012 3456 78AB", "invalid-card-number"),
        ("number", "1" * 100, "invalid-card-number"),
        ("number", "１２３４５６７８９０１２３４５６", "invalid-card-number"),
        ("number", "1' OR '1'='1", "invalid-card-number"),
        ("number", "3205001234567890; DROP TABLE citizen_card", "invalid-card-number"),
        ("number", "1" * 5000, "validation-error"),
        ("number", 3205001234567890, "validation-error"),
        ("number", None, "validation-error"),
        ("number", ["3205001234567890"], "validation-error"),
        ("chip_uid", "04A2B3C4D5E6", "invalid-chip-uid"),
        ("chip_uid", "ZZZZZZZZ", "invalid-chip-uid"),
        ("chip_uid", "' OR 1=1 --", "invalid-chip-uid"),
        ("chip_uid", "０４Ａ２Ｂ３Ｃ４", "invalid-chip-uid"),
        ("chip_uid", "", "validation-error"),
    ],
)
async def test_hostile_card_input_is_a_422_problem(client, session, field, value, type_suffix):
    me = await resident_at(session)
    body = {"number": NUMBERS[0], "chip_uid": CHIP_UIDS[0], field: value}

    refused = await client.post("/v1/me/cards", json=body, headers=with_key(me.headers))

    assert_problem(refused, 422, type_suffix)
    if isinstance(value, str) and value:
        assert value not in refused.text
    assert await citizen_card.cards_of(session, resident_id=me.id) == []


async def test_reporting_a_card_lost_takes_effect_at_once_and_twice_answers_the_same(
    client, session
):
    me = await resident_at(session)
    card = (await bind(client, me)).json()

    first = await client.post(
        "/v1/me/cards/report-lost", headers={**me.headers, "Idempotency-Key": "lost-1"}
    )
    again = await client.post(
        "/v1/me/cards/report-lost",
        json={"card_id": card["id"]},
        headers={**me.headers, "Idempotency-Key": "lost-2"},
    )
    retried = await client.post(
        "/v1/me/cards/report-lost", headers={**me.headers, "Idempotency-Key": "lost-1"}
    )

    assert first.status_code == again.status_code == retried.status_code == 200, first.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"] == card["id"]
    assert first.json()["status"] == "reported_lost"
    tapped = await citizen_card.by_chip_uid(session, CHIP_UIDS[0])
    with pytest.raises(citizen_card.CardNotUsable):
        citizen_card.usable(tapped)
    actions = [a.action for a in await footprint(session, me.id)]
    assert actions.count("card.report_lost") == 2


async def test_another_residents_card_cannot_be_reported_lost(client, session):
    owner = await resident_at(session)
    card = (await bind(client, owner)).json()
    other = await resident_at(session, phone="13900000001", sequence=2)

    refused = await client.post(
        "/v1/me/cards/report-lost", json={"card_id": card["id"]}, headers=other.headers
    )

    assert_problem(refused, 404, "card-not-found")
    assert (await client.get("/v1/me/cards", headers=owner.headers)).json()["items"][0][
        "status"
    ] == "active"


async def test_the_resident_sets_and_changes_the_pin(client, session):
    me = await resident_at(session)
    card = (await bind(client, me)).json()

    weak = await client.put("/v1/me/cards/pin", json={"pin": "123456"}, headers=me.headers)
    as_number = await client.put("/v1/me/cards/pin", json={"pin": 385917}, headers=me.headers)
    first = await client.put("/v1/me/cards/pin", json={"pin": GOOD_PIN}, headers=me.headers)
    no_old = await client.put("/v1/me/cards/pin", json={"pin": OTHER_GOOD_PIN}, headers=me.headers)
    wrong_old = await client.put(
        "/v1/me/cards/pin", json={"pin": OTHER_GOOD_PIN, "old_pin": WRONG_PIN}, headers=me.headers
    )

    assert assert_problem(weak, 422, "weak-pin")["reason"] == "sequence"
    assert_problem(as_number, 422, "validation-error")
    assert first.status_code == 204
    assert_problem(no_old, 422, "old-pin-required")
    assert assert_problem(wrong_old, 401, "wrong-pin")["attempts_left"] == 4
    stored = await session.get(Card, uuid.UUID(card["id"]))
    await session.refresh(stored)
    assert stored.pin_failures == 1  # the refused request kept its count

    changed = await client.put(
        "/v1/me/cards/pin", json={"pin": OTHER_GOOD_PIN, "old_pin": GOOD_PIN}, headers=me.headers
    )
    assert changed.status_code == 204
    assert (await client.get("/v1/me/cards", headers=me.headers)).json()["items"][0][
        "pin_set"
    ] is True
    await citizen_card.verify_pin(
        session, card=stored, pin=OTHER_GOOD_PIN, actor="kiosk:k1", channel="kiosk"
    )
    actions = [a.action for a in await footprint(session, me.id)]
    assert actions.count("card.set_pin") == 2


async def test_a_wrong_old_pin_is_committed_although_refused(committed_client, committed_db):
    async with committed_db.unit_of_work() as session:
        me = await resident_at(session)
        issued = await citizen_card.issue(
            session,
            resident_id=me.id,
            number=NUMBERS[0],
            chip_uid=CHIP_UIDS[0],
            actor="staff:test",
            channel="counter",
        )
        await citizen_card.set_pin(session, resident_id=me.id, pin=GOOD_PIN)

    for attempts_left in (4, 3):
        refused = await committed_client.put(
            "/v1/me/cards/pin",
            json={"pin": OTHER_GOOD_PIN, "old_pin": WRONG_PIN},
            headers=me.headers,
        )
        assert assert_problem(refused, 401, "wrong-pin")["attempts_left"] == attempts_left

    async with committed_db.unit_of_work() as session:
        card = await session.get(Card, issued.id)
        assert card.pin_failures == 2
        assert await footprint(session, me.id) == []  # refused: no trace of success


async def test_a_forgotten_pin_is_reset_with_an_sms_code(client, session, gateways):
    me = await resident_at(session)
    await bind(client, me)
    await client.put("/v1/me/cards/pin", json={"pin": GOOD_PIN}, headers=me.headers)

    sent = await client.post("/v1/me/cards/pin-reset-codes", headers=me.headers)
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"expires_in": 300, "resend_after": 60}
    too_soon = await client.post("/v1/me/cards/pin-reset-codes", headers=me.headers)
    assert_problem(too_soon, 429, "otp-resend-too-soon")
    reset = await client.post(
        "/v1/me/cards/pin-reset",
        json={"code": last_code(gateways), "pin": OTHER_GOOD_PIN},
        headers=me.headers,
    )
    assert reset.status_code == 204, reset.text
    reused = await client.post(
        "/v1/me/cards/pin-reset",
        json={"code": last_code(gateways), "pin": OTHER_GOOD_PIN},
        headers=me.headers,
    )
    assert_problem(reused, 400, "otp-expired")

    card = await citizen_card.active_card(session, resident_id=me.id)
    await citizen_card.verify_pin(
        session, card=card, pin=OTHER_GOOD_PIN, actor="kiosk:k1", channel="kiosk"
    )
    actions = [a.action for a in await footprint(session, me.id)]
    assert "card.pin_reset_code" in actions
    assert "card.reset_pin" in actions


async def test_a_pin_reset_needs_l2(client, session, gateways):
    me = await resident_at(session, verified=False)

    code = await client.post("/v1/me/cards/pin-reset-codes", headers=me.headers)
    reset = await client.post(
        "/v1/me/cards/pin-reset", json={"code": "123456", "pin": GOOD_PIN}, headers=me.headers
    )

    assert_problem(code, 403, "assurance-too-low")
    assert_problem(reset, 403, "assurance-too-low")
    assert not gateways.calls


async def test_card_endpoints_need_a_resident(client, session, clerk):
    assert (await client.get("/v1/me/cards")).status_code == 401
    assert (await client.get("/v1/me/cards", headers=clerk.headers)).status_code == 403


# --- the counter -------------------------------------------------------------------------------


async def test_a_clerk_issues_freezes_unfreezes_and_cancels(client, session, clerk):
    resident = await make_card_resident(session, verified=False)
    base = f"/v1/staff/residents/{resident.id}/cards"

    issued = await client.post(
        base, json={"number": NUMBERS[0], "chip_uid": CHIP_UIDS[0]}, headers=with_key(clerk.headers)
    )
    second = await client.post(
        base, json={"number": NUMBERS[1], "chip_uid": CHIP_UIDS[1]}, headers=with_key(clerk.headers)
    )

    assert issued.status_code == 201, issued.text
    assert issued.json()["number"] == "3205****7890"
    assert_problem(second, 409, "card-already-active")
    card_id = issued.json()["id"]
    for action, status in (("freeze", "frozen"), ("unfreeze", "active"), ("cancel", "cancelled")):
        moved = await client.post(
            f"/v1/staff/cards/{card_id}/{action}",
            json={"reason": f"{action} at the counter"},
            headers=clerk.headers,
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status
    refused = await client.post(
        f"/v1/staff/cards/{card_id}/freeze", json={"reason": "too late"}, headers=clerk.headers
    )
    assert assert_problem(refused, 409, "card-not-usable")["card_status"] == "cancelled"

    listed = await client.get(base, headers=clerk.headers)
    assert [c["status"] for c in listed.json()["items"]] == ["cancelled"]
    events = (await client.get(f"/v1/staff/cards/{card_id}/events", headers=clerk.headers)).json()[
        "items"
    ]
    assert [e["to_status"] for e in events] == [
        "issued",
        "active",
        "frozen",
        "active",
        "cancelled",
    ]
    assert {e["actor"] for e in events} == {f"staff:{clerk.id}"}
    assert events[2]["reason"] == "freeze at the counter"
    for response in (issued, listed):
        assert plain(NUMBERS[0]) not in response.text


async def test_a_clerk_replaces_a_lost_card(client, session, clerk):
    me = await resident_at(session)
    old = (await bind(client, me)).json()
    await client.put("/v1/me/cards/pin", json={"pin": GOOD_PIN}, headers=me.headers)
    await client.post("/v1/me/cards/report-lost", headers=me.headers)

    new = await client.post(
        f"/v1/staff/residents/{me.id}/cards/replace",
        json={"number": NUMBERS[1], "chip_uid": CHIP_UIDS[1]},
        headers=with_key(clerk.headers),
    )

    assert new.status_code == 201, new.text
    assert new.json()["replaces_id"] == old["id"]
    assert new.json()["resident_id"] == str(me.id)
    mine = (await client.get("/v1/me/cards", headers=me.headers)).json()["items"]
    assert [(c["id"], c["status"]) for c in mine] == [
        (new.json()["id"], "active"),
        (old["id"], "replaced"),
    ]
    tapped = await citizen_card.by_chip_uid(session, CHIP_UIDS[1])
    await citizen_card.verify_pin(
        session, card=tapped, pin=GOOD_PIN, actor="kiosk:k", channel="kiosk"
    )


async def test_a_clerk_unlocks_a_card_and_sets_its_pin(client, session, clerk):
    me = await resident_at(session)
    card_id = (await bind(client, me)).json()["id"]
    await client.put("/v1/me/cards/pin", json={"pin": GOOD_PIN}, headers=me.headers)
    card = await session.get(Card, uuid.UUID(card_id))
    for _ in range(4):
        with pytest.raises(citizen_card.WrongPin):
            await citizen_card.verify_pin(
                session, card=card, pin=WRONG_PIN, actor="hotline", channel="hotline"
            )
    with pytest.raises(citizen_card.CardLocked):
        await citizen_card.verify_pin(
            session, card=card, pin=WRONG_PIN, actor="hotline", channel="hotline"
        )
    locked = await client.get(f"/v1/staff/cards/{card_id}", headers=clerk.headers)
    assert locked.json()["locked_until"] is not None

    unlocked = await client.post(
        f"/v1/staff/cards/{card_id}/unlock",
        json={"reason": "resident at the counter"},
        headers=clerk.headers,
    )
    weak = await client.put(
        f"/v1/staff/cards/{card_id}/pin", json={"pin": "000000"}, headers=clerk.headers
    )
    set_pin = await client.put(
        f"/v1/staff/cards/{card_id}/pin", json={"pin": OTHER_GOOD_PIN}, headers=clerk.headers
    )

    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until"] is None
    assert_problem(weak, 422, "weak-pin")
    assert set_pin.status_code == 204, set_pin.text
    await citizen_card.verify_pin(
        session, card=card, pin=OTHER_GOOD_PIN, actor="hotline", channel="hotline"
    )


async def test_counter_endpoints_are_for_counter_clerks(client, session):
    resident = await resident_at(session)
    awarder = await make_staff(session, "zhao.awarder", [("awarder", "songling")])
    path = f"/v1/staff/residents/{resident.id}/cards"
    body = {"number": NUMBERS[0], "chip_uid": CHIP_UIDS[0]}

    assert (await client.post(path, json=body)).status_code == 401
    for actor in (resident, awarder):
        refused = await client.post(path, json=body, headers=with_key(actor.headers))
        assert_problem(refused, 403, "insufficient-role")
    assert await citizen_card.cards_of(session, resident_id=resident.id) == []


async def test_unknown_cards_and_residents_are_404(client, session, clerk):
    missing = uuid.uuid4()
    for path in (
        f"/v1/staff/cards/{missing}/freeze",
        f"/v1/staff/cards/{missing}/unlock",
        f"/v1/staff/cards/{missing}/cancel",
    ):
        response = await client.post(path, json={"reason": "x"}, headers=with_key(clerk.headers))
        assert_problem(response, 404, "card-not-found")
    no_resident = await client.post(
        f"/v1/staff/residents/{missing}/cards",
        json={"number": NUMBERS[0], "chip_uid": CHIP_UIDS[0]},
        headers=with_key(clerk.headers),
    )
    assert_problem(no_resident, 404, "resident-not-found")
    not_a_uuid = await client.get("/v1/staff/cards/1' OR 1=1/events", headers=clerk.headers)
    assert not_a_uuid.status_code == 422
