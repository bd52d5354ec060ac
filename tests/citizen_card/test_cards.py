"""Card records and their lifecycle, at the service level: numbers and chip UIDs, one active card
per resident (also when requests race), report lost, freeze, cancel, replace."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from structlog.testing import capture_logs

import citizen_card
from citizen_card import numbers
from citizen_card.errors import (
    AssuranceTooLow,
    CardAlreadyActive,
    CardNotFound,
    CardNotUsable,
    CardTaken,
    InvalidCardNumber,
    InvalidChipUid,
)
from citizen_card.models import Card, CardStatus
from identity.errors import ResidentNotFound
from tests.citizen_card import CHIP_UIDS, NUMBERS, issue_card, make_resident, plain

CLERK = "staff:0194e6d2-0000-7000-8000-000000000001"

# --- numbers and chip UIDs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("3205 0012 3456 7890", "3205001234567890"),
        ("3205-0012-3456-7890", "3205001234567890"),
        ("  3205001234567890123 ", "3205001234567890123"),
        ("32050012345678901", "32050012345678901"),
    ],
)
def test_card_numbers_are_made_canonical(typed, canonical):
    assert numbers.card_number(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "320500123456789",  # 15 digits
        "32050012345678901234",  # 20 digits
        "1" * 100,
        "3205 0012 3456 789O",  # a letter O
        "３２０５００１２３４５６７８９０",  # full-width digits
        "٣٢٠٥٠٠١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits
        "3205001234567890'; DROP TABLE citizen_card; --",
        "1' OR '1'='1",
        "3205\n001234567890",
        "3205_0012_3456_7890",
    ],
)
def test_anything_else_is_not_a_card_number(typed):
    with pytest.raises(InvalidCardNumber) as refused:
        numbers.card_number(typed)
    assert typed.strip() == "" or typed not in refused.value.detail


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("04a2b3c4d5e680", "04A2B3C4D5E680"),
        ("a1:b2:c3:d4", "A1B2C3D4"),
        ("04 11 22 33 44 55 66 77 88 99", "04112233445566778899"),
        ("04-A2-B3-C4-D5-E6-80", "04A2B3C4D5E680"),
    ],
)
def test_chip_uids_are_upper_case_hex_of_4_7_or_10_bytes(typed, canonical):
    assert numbers.chip_uid(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "A1B2C3",  # 3 bytes
        "A1B2C3D4E5",  # 5 bytes
        "A1B2C3D4E5F6A7B8C9D0E1",  # 11 bytes
        "G1B2C3D4",
        "Ａ1B2C3D4",  # a full-width A
        "' OR 1=1 --",
        "F" * 100,
    ],
)
def test_anything_else_is_not_a_chip_uid(typed):
    with pytest.raises(InvalidChipUid):
        numbers.chip_uid(typed)


@given(st.text(max_size=80))
def test_any_text_is_a_canonical_number_or_refused(text):
    try:
        number = numbers.card_number(text)
    except InvalidCardNumber:
        return
    assert re.fullmatch(r"[0-9]{16,19}", number)


@given(st.text(max_size=80))
def test_any_text_is_a_canonical_chip_uid_or_refused(text):
    try:
        uid = numbers.chip_uid(text)
    except InvalidChipUid:
        return
    assert re.fullmatch(r"[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20}", uid)


def test_a_number_is_masked_to_its_prefix_and_last_four():
    assert numbers.mask_number("3205001234567890") == "3205****7890"
    assert numbers.mask_number("3205001234567890123") == "3205****0123"


# --- issuing and binding ---------------------------------------------------------------------


async def test_a_clerk_issues_an_active_card_shown_masked(session):
    resident = await make_resident(session, verified=False)

    with capture_logs() as logs:
        issued = await issue_card(session, resident)

    assert issued.status == CardStatus.ACTIVE
    assert issued.number == "3205****7890"
    assert issued.last4 == "7890"
    assert issued.resident_id == resident.id
    assert not issued.pin_set
    shown = issued.model_dump_json() + repr(logs)
    assert plain(NUMBERS[0]) not in shown
    assert "04A2B3C4D5E680" not in shown.upper()
    stored = await session.get(Card, issued.id)
    assert plain(NUMBERS[0]) not in stored.number_token + stored.number_index
    events = await citizen_card.history(session, card_id=issued.id)
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, CardStatus.ISSUED),
        (CardStatus.ISSUED, CardStatus.ACTIVE),
    ]
    assert {(e.actor, e.channel) for e in events} == {("staff:test-clerk", "counter")}


async def test_a_card_is_found_by_its_chip_however_the_uid_is_written(session):
    resident = await make_resident(session)
    issued = await issue_card(session, resident)

    for written in ("04A2B3C4D5E680", "04:a2:b3:c4:d5:e6:80", " 04-A2-B3-C4-D5-E6-80 "):
        found = await citizen_card.by_chip_uid(session, written)
        assert found is not None
        assert found.id == issued.id
    assert await citizen_card.by_chip_uid(session, "04A2B3C4D5E681") is None
    with pytest.raises(InvalidChipUid):
        await citizen_card.by_chip_uid(session, "not a chip")


async def test_the_hotline_finds_the_active_card_by_its_last_four_digits(session):
    resident = await make_resident(session)
    issued = await issue_card(session, resident)

    found = await citizen_card.card_for_hotline(session, resident_id=resident.id, last4="7890")
    assert found is not None
    assert found.id == issued.id
    for wrong in ("7891", "789", "７８９０", "78900", ""):
        assert (
            await citizen_card.card_for_hotline(session, resident_id=resident.id, last4=wrong)
            is None
        )

    await citizen_card.report_lost(
        session, resident_id=resident.id, actor="hotline", channel="hotline"
    )
    assert (
        await citizen_card.card_for_hotline(session, resident_id=resident.id, last4="7890") is None
    )


async def test_a_resident_has_one_active_card(session):
    resident = await make_resident(session)
    first = await issue_card(session, resident, 0)

    with pytest.raises(CardAlreadyActive):
        await issue_card(session, resident, 1)
    with pytest.raises(CardAlreadyActive):
        await citizen_card.bind(
            session,
            resident_id=resident.id,
            assurance="real_name",
            number=NUMBERS[2],
            chip_uid=CHIP_UIDS[2],
        )
    again = await issue_card(session, resident, 0)  # a retried request: the same answer
    assert again.id == first.id
    assert [c.id for c in await citizen_card.cards_of(session, resident_id=resident.id)] == [
        first.id
    ]


async def test_binding_in_the_app_needs_a_verified_real_name(session):
    resident = await make_resident(session, verified=False)

    with pytest.raises(AssuranceTooLow) as refused:
        await citizen_card.bind(
            session,
            resident_id=resident.id,
            assurance="phone",
            number=NUMBERS[0],
            chip_uid=CHIP_UIDS[0],
        )
    assert refused.value.extensions == {"required": "real_name"}
    for which, level in enumerate(("real_name", "in_person")):
        other = await make_resident(session, phone=f"1390000000{which}", verified=False)
        bound = await citizen_card.bind(
            session,
            resident_id=other.id,
            assurance=level,
            number=NUMBERS[which],
            chip_uid=CHIP_UIDS[which],
        )
        assert bound.status == CardStatus.ACTIVE
        events = await citizen_card.history(session, card_id=bound.id)
        assert events[-1].actor == f"resident:{other.id}"
        assert events[-1].channel == "app"


async def test_another_residents_card_cannot_be_bound(session):
    owner = await make_resident(session)
    await issue_card(session, owner, 0)
    other = await make_resident(session, phone="13900000001", sequence=2)

    with pytest.raises(CardTaken):  # the number, however written
        await citizen_card.bind(
            session,
            resident_id=other.id,
            assurance="real_name",
            number=plain(NUMBERS[0]),
            chip_uid=CHIP_UIDS[1],
        )
    with pytest.raises(CardTaken):  # the chip
        await citizen_card.bind(
            session,
            resident_id=other.id,
            assurance="real_name",
            number=NUMBERS[1],
            chip_uid=CHIP_UIDS[0].upper(),
        )
    assert await citizen_card.cards_of(session, resident_id=other.id) == []


async def test_issuing_to_an_unknown_resident_is_refused(session):
    with pytest.raises(ResidentNotFound):
        await citizen_card.issue(
            session,
            resident_id=uuid.uuid4(),
            number=NUMBERS[0],
            chip_uid=CHIP_UIDS[0],
            actor=CLERK,
            channel="counter",
        )


# --- lost, frozen, cancelled, replaced -------------------------------------------------------


async def test_a_card_reported_lost_can_no_longer_be_used_and_reporting_again_answers_the_same(
    session,
):
    resident = await make_resident(session)
    issued = await issue_card(session, resident)

    lost = await citizen_card.report_lost(
        session, resident_id=resident.id, actor="kiosk:k1", channel="kiosk"
    )
    again = await citizen_card.report_lost(
        session, resident_id=resident.id, actor=f"resident:{resident.id}", channel="app"
    )
    by_id = await citizen_card.report_lost(
        session, resident_id=resident.id, actor="hotline", channel="hotline", card_id=issued.id
    )

    assert lost.id == again.id == by_id.id == issued.id
    assert again.status == CardStatus.REPORTED_LOST
    card = await session.get(Card, issued.id)
    with pytest.raises(CardNotUsable) as refused:
        citizen_card.usable(card)
    assert refused.value.extensions == {"card_status": "reported_lost"}
    assert await citizen_card.active_card(session, resident_id=resident.id) is None
    events = await citizen_card.history(session, card_id=issued.id)
    assert [(e.to_status, e.actor, e.channel) for e in events[2:]] == [
        (CardStatus.REPORTED_LOST, "kiosk:k1", "kiosk")
    ]


async def test_only_the_residents_own_card_can_be_reported_lost(session):
    owner = await make_resident(session)
    issued = await issue_card(session, owner)
    other = await make_resident(session, phone="13900000001", sequence=2)

    with pytest.raises(CardNotFound):
        await citizen_card.report_lost(
            session, resident_id=other.id, actor="hotline", channel="hotline", card_id=issued.id
        )
    with pytest.raises(CardNotFound):
        await citizen_card.report_lost(
            session, resident_id=other.id, actor="hotline", channel="hotline"
        )
    assert (await session.get(Card, issued.id)).status == CardStatus.ACTIVE


async def test_replacement_keeps_the_resident_and_makes_the_new_card_usable(session):
    resident = await make_resident(session)
    old = await issue_card(session, resident, 0)
    await citizen_card.report_lost(
        session, resident_id=resident.id, actor="hotline", channel="hotline"
    )

    new = await citizen_card.replace(
        session,
        resident_id=resident.id,
        number=NUMBERS[1],
        chip_uid=CHIP_UIDS[1],
        actor=CLERK,
        channel="counter",
    )

    assert new.resident_id == resident.id
    assert new.replaces_id == old.id
    assert new.status == CardStatus.ACTIVE
    citizen_card.usable(await session.get(Card, new.id))
    assert (await session.get(Card, old.id)).status == CardStatus.REPLACED
    tapped = await citizen_card.by_chip_uid(session, CHIP_UIDS[1])
    assert tapped.id == new.id
    assert (await citizen_card.active_card(session, resident_id=resident.id)).id == new.id
    history = await citizen_card.history(session, card_id=old.id)
    assert (history[-1].from_status, history[-1].to_status) == (
        CardStatus.REPORTED_LOST,
        CardStatus.REPLACED,
    )
    # The old card's number is spent: it cannot come back.
    with pytest.raises(CardNotUsable):
        await issue_card(session, resident, 0)


async def test_an_active_card_is_replaced_directly_and_a_retry_answers_the_same(session):
    resident = await make_resident(session)
    old = await issue_card(session, resident, 0)

    replaced = [
        await citizen_card.replace(
            session,
            resident_id=resident.id,
            number=NUMBERS[1],
            chip_uid=CHIP_UIDS[1],
            actor=CLERK,
            channel="counter",
        )
        for _ in range(2)
    ]

    assert replaced[0].id == replaced[1].id
    assert replaced[0].replaces_id == old.id
    statuses = {
        c.id: c.status for c in await citizen_card.cards_of(session, resident_id=resident.id)
    }
    assert statuses == {old.id: CardStatus.REPLACED, replaced[0].id: CardStatus.ACTIVE}


async def test_nothing_to_replace_is_refused(session):
    resident = await make_resident(session)
    with pytest.raises(CardNotFound):
        await citizen_card.replace(
            session,
            resident_id=resident.id,
            number=NUMBERS[1],
            chip_uid=CHIP_UIDS[1],
            actor=CLERK,
            channel="counter",
        )


async def test_binding_after_a_loss_replaces_the_lost_card(session):
    resident = await make_resident(session)
    lost = await issue_card(session, resident, 0)
    await citizen_card.report_lost(
        session, resident_id=resident.id, actor=f"resident:{resident.id}", channel="app"
    )

    bound = await citizen_card.bind(
        session,
        resident_id=resident.id,
        assurance="real_name",
        number=NUMBERS[1],
        chip_uid=CHIP_UIDS[1],
    )

    assert bound.replaces_id == lost.id
    assert (await session.get(Card, lost.id)).status == CardStatus.REPLACED


async def test_freeze_unfreeze_and_cancel_by_a_clerk(session):
    resident = await make_resident(session)
    issued = await issue_card(session, resident)

    frozen = await citizen_card.freeze(
        session, card_id=issued.id, actor=CLERK, reason="fraud check"
    )
    assert frozen.status == CardStatus.FROZEN
    assert (
        await citizen_card.freeze(session, card_id=issued.id, actor=CLERK, reason="again")
    ).status == CardStatus.FROZEN
    with pytest.raises(CardNotUsable):
        citizen_card.usable(await session.get(Card, issued.id))
    with pytest.raises(CardNotUsable):  # a frozen card is seen to at the counter, not in the app
        await citizen_card.bind(
            session,
            resident_id=resident.id,
            assurance="in_person",
            number=NUMBERS[1],
            chip_uid=CHIP_UIDS[1],
        )

    thawed = await citizen_card.unfreeze(session, card_id=issued.id, actor=CLERK, reason="cleared")
    assert thawed.status == CardStatus.ACTIVE
    citizen_card.usable(await session.get(Card, issued.id))

    cancelled = await citizen_card.cancel(
        session, card_id=issued.id, actor=CLERK, reason="moved away"
    )
    assert cancelled.status == CardStatus.CANCELLED
    assert (
        await citizen_card.cancel(session, card_id=issued.id, actor=CLERK, reason="x")
    ).status == CardStatus.CANCELLED
    for move in (citizen_card.freeze, citizen_card.unfreeze):
        with pytest.raises(CardNotUsable):
            await move(session, card_id=issued.id, actor=CLERK, reason="no")

    events = await citizen_card.history(session, card_id=issued.id)
    assert [(e.to_status, e.reason) for e in events[2:]] == [
        (CardStatus.FROZEN, "fraud check"),
        (CardStatus.ACTIVE, "cleared"),
        (CardStatus.CANCELLED, "moved away"),
    ]
    assert all(e.actor == CLERK for e in events[2:])


async def test_a_frozen_card_cannot_be_unfrozen_beside_another_active_card(session):
    resident = await make_resident(session)
    frozen = await issue_card(session, resident, 0)
    await citizen_card.freeze(session, card_id=frozen.id, actor=CLERK, reason="check")
    await issue_card(session, resident, 1)

    with pytest.raises(CardAlreadyActive):
        await citizen_card.unfreeze(session, card_id=frozen.id, actor=CLERK, reason="cleared")
    assert (await session.get(Card, frozen.id)).status == CardStatus.FROZEN


async def test_unknown_cards_are_not_found(session):
    for move in (citizen_card.freeze, citizen_card.unfreeze, citizen_card.cancel):
        with pytest.raises(CardNotFound):
            await move(session, card_id=uuid.uuid4(), actor=CLERK, reason="x")
    with pytest.raises(CardNotFound):
        await citizen_card.card(session, card_id=uuid.uuid4())


# --- racing requests (real commits) -----------------------------------------------------------


async def _race(committed_db, attempts):
    async def run(attempt):
        try:
            async with committed_db.unit_of_work() as session:
                return await attempt(session)
        except Exception as exc:
            return exc

    return await asyncio.gather(*(run(attempt) for attempt in attempts))


async def test_concurrent_issues_for_one_resident_one_wins(committed_db):
    async with committed_db.unit_of_work() as session:
        resident = await make_resident(session)

    outcomes = await _race(
        committed_db,
        [
            lambda s, which=which: citizen_card.issue(
                s,
                resident_id=resident.id,
                number=NUMBERS[which],
                chip_uid=CHIP_UIDS[which],
                actor=CLERK,
                channel="counter",
            )
            for which in range(4)
        ],
    )

    won = [o for o in outcomes if isinstance(o, citizen_card.CardOut)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, CardAlreadyActive) for o in outcomes if o not in won), outcomes
    async with committed_db.unit_of_work() as session:
        cards = await citizen_card.cards_of(session, resident_id=resident.id)
    assert [c.id for c in cards] == [won[0].id]


async def test_concurrent_binds_for_one_resident_one_wins(committed_db):
    async with committed_db.unit_of_work() as session:
        resident = await make_resident(session)

    outcomes = await _race(
        committed_db,
        [
            lambda s, which=which: citizen_card.bind(
                s,
                resident_id=resident.id,
                assurance="real_name",
                number=NUMBERS[which],
                chip_uid=CHIP_UIDS[which],
            )
            for which in range(3)
        ],
    )

    assert sum(isinstance(o, citizen_card.CardOut) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, CardAlreadyActive) for o in outcomes) == 2, outcomes


async def test_two_residents_binding_one_card_at_once_one_wins(committed_db):
    async with committed_db.unit_of_work() as session:
        first = await make_resident(session, phone="13800000001", sequence=1)
        second = await make_resident(session, phone="13800000002", sequence=2)

    outcomes = await _race(
        committed_db,
        [
            lambda s, who=who: citizen_card.bind(
                s,
                resident_id=who.id,
                assurance="real_name",
                number=NUMBERS[0],
                chip_uid=CHIP_UIDS[0],
            )
            for who in (first, second)
        ],
    )

    assert sum(isinstance(o, citizen_card.CardOut) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, CardTaken) for o in outcomes) == 1, outcomes
    async with committed_db.unit_of_work() as session:
        rows = (await session.scalars(select(Card))).all()
    assert len(rows) == 1
