"""The card PIN: its rules, changing it, the lock after 5 wrong PINs (kept although the request is
refused, counted under concurrency, lifted by a clerk or after 24 hours), and resets."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

import citizen_card
from citizen_card import pins
from citizen_card.errors import (
    AssuranceTooLow,
    CardLocked,
    CardNotFound,
    CardNotUsable,
    OldPinRequired,
    PinNotSet,
    WeakPin,
    WrongPin,
)
from citizen_card.models import Card, CardEvent, CardStatus
from core import clock
from identity.errors import WrongCode
from tests.citizen_card import (
    BIRTH_DIGITS,
    GOOD_PIN,
    OTHER_GOOD_PIN,
    issue_card,
    make_resident,
)

CLERK = "staff:0194e6d2-0000-7000-8000-000000000001"
WRONG_PIN = "740263"


class CapturedSms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, *, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def last_code(self) -> str:
        return re.search(r"\d{6}", self.sent[-1][1]).group(0)


async def card_with_pin(session, pin=GOOD_PIN, **resident) -> Card:
    resident = await make_resident(session, **resident)
    issued = await issue_card(session, resident)
    await pins.set_pin(session, resident_id=resident.id, pin=pin)
    return await session.get(Card, issued.id)


async def kiosk_try(session, card, pin):
    await citizen_card.verify_pin(session, card=card, pin=pin, actor="kiosk:k1", channel="kiosk")


# --- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("12345", "format"),
        ("1234567", "format"),
        ("12a456", "format"),
        ("１２３４５６", "format"),  # full-width digits
        ("12345\n", "format"),
        ("", "format"),
        ("000000", "same-digit"),
        ("777777", "same-digit"),
        ("123456", "sequence"),
        ("654321", "sequence"),
        ("345678", "sequence"),
        ("890123", "sequence"),
        ("210987", "sequence"),
        ("121212", "repeating"),
        ("123123", "repeating"),
        ("907907", "repeating"),
    ],
)
def test_trivial_pins_are_refused(pin, reason):
    with pytest.raises(WeakPin) as refused:
        pins.check_strength(pin)
    assert refused.value.reason == reason
    assert pin == "" or pin not in refused.value.detail


@pytest.mark.parametrize("pin", [GOOD_PIN, OTHER_GOOD_PIN, "102938", "135790", "112358"])
def test_ordinary_pins_are_accepted(pin):
    pins.check_strength(pin, number="3205001234567890", birth=None)


def test_pins_built_from_the_card_or_the_birthday_are_refused():
    number = "3205004433561742"
    for pin in ("561742", "001742", "174233", "917420"):
        with pytest.raises(WeakPin) as refused:
            pins.check_strength(pin, number=number)
        assert refused.value.reason == "card-number"
    for pin in ("900517", "051790", "170590", "199005", "051990"):
        with pytest.raises(WeakPin) as refused:
            pins.check_strength(pin, birth=date(1990, 5, 17))
        assert refused.value.reason == "birthday"


async def test_the_residents_own_birthday_and_card_digits_are_refused_when_setting(session):
    resident = await make_resident(session)
    await issue_card(session, resident)

    for pin, reason in ((BIRTH_DIGITS, "birthday"), ("337890", "card-number")):
        with pytest.raises(WeakPin) as refused:
            await pins.set_pin(session, resident_id=resident.id, pin=pin)
        assert refused.value.reason == reason


# --- setting and changing --------------------------------------------------------------------


async def test_the_resident_sets_a_pin_and_changes_it_with_the_old_one(session):
    card = await card_with_pin(session)
    assert card.pin_hash is not None
    assert GOOD_PIN not in card.pin_hash
    resident_id = card.resident_id

    with pytest.raises(OldPinRequired):
        await pins.set_pin(session, resident_id=resident_id, pin=OTHER_GOOD_PIN)
    with pytest.raises(WrongPin) as refused:
        await pins.set_pin(session, resident_id=resident_id, pin=OTHER_GOOD_PIN, old_pin=WRONG_PIN)
    assert refused.value.keeps_changes
    assert refused.value.attempts_left == 4
    await pins.set_pin(session, resident_id=resident_id, pin=OTHER_GOOD_PIN, old_pin=GOOD_PIN)

    await kiosk_try(session, card, OTHER_GOOD_PIN)
    assert card.pin_failures == 0
    with pytest.raises(WrongPin):
        await kiosk_try(session, card, GOOD_PIN)


async def test_without_an_active_card_there_is_no_pin_to_set(session):
    resident = await make_resident(session)
    with pytest.raises(CardNotFound):
        await pins.set_pin(session, resident_id=resident.id, pin=GOOD_PIN)


async def test_a_card_without_a_pin_cannot_be_checked(session):
    resident = await make_resident(session)
    issued = await issue_card(session, resident)
    card = await session.get(Card, issued.id)

    with pytest.raises(PinNotSet):
        await kiosk_try(session, card, GOOD_PIN)
    assert card.pin_failures == 0


# --- checking and the lock -------------------------------------------------------------------


async def test_a_right_pin_clears_the_count_of_wrong_ones(session):
    card = await card_with_pin(session)

    for attempts_left in (4, 3):
        with pytest.raises(WrongPin) as refused:
            await kiosk_try(session, card, WRONG_PIN)
        assert refused.value.attempts_left == attempts_left
        assert refused.value.extensions == {"attempts_left": attempts_left}
    with pytest.raises(WrongPin):
        await kiosk_try(session, card, "abcdef")  # not even digits: wrong all the same
    assert card.pin_failures == 3

    await kiosk_try(session, card, GOOD_PIN)
    assert card.pin_failures == 0
    assert (await session.get(Card, card.id)).pin_failures == 0


async def test_five_wrong_pins_lock_the_card_for_24_hours(session):
    with clock.frozen(clock.now()):
        card = await card_with_pin(session)
        for _ in range(4):
            with pytest.raises(WrongPin):
                await kiosk_try(session, card, WRONG_PIN)

        with pytest.raises(CardLocked) as locked:
            await kiosk_try(session, card, WRONG_PIN)

        assert locked.value.keeps_changes
        assert locked.value.locked_until == clock.now() + timedelta(hours=24)
        assert locked.value.extensions["retry_after"] == 24 * 3600
        with pytest.raises(CardLocked) as still:  # the right PIN does not help now
            await kiosk_try(session, card, GOOD_PIN)
        assert not still.value.keeps_changes
        assert card.pin_failures == 5
        out = await citizen_card.card(session, card_id=card.id)
        assert out.locked_until == clock.now() + timedelta(hours=24)
        events = (
            await session.scalars(select(CardEvent).where(CardEvent.card_id == card.id))
        ).all()
        lock_events = [e for e in events if "locked" in e.reason]
        assert [(e.actor, e.channel, e.to_status) for e in lock_events] == [
            ("kiosk:k1", "kiosk", "active")
        ]

        clock.advance(timedelta(hours=23, minutes=59))
        with pytest.raises(CardLocked):
            await kiosk_try(session, card, GOOD_PIN)
        clock.advance(timedelta(minutes=1))
        await kiosk_try(session, card, GOOD_PIN)
        assert card.pin_failures == 0
        assert card.pin_locked_until is None


async def test_after_the_lock_runs_out_counting_starts_afresh(session):
    with clock.frozen(clock.now()):
        card = await card_with_pin(session)
        for _ in range(4):
            with pytest.raises(WrongPin):
                await kiosk_try(session, card, WRONG_PIN)
        with pytest.raises(CardLocked):
            await kiosk_try(session, card, WRONG_PIN)
        clock.advance(timedelta(hours=24))

        with pytest.raises(WrongPin) as refused:
            await kiosk_try(session, card, WRONG_PIN)

        assert refused.value.attempts_left == 4
        citizen_card.usable(card)


async def test_a_clerk_unlocks_a_locked_card(session):
    card = await card_with_pin(session)
    for _ in range(4):
        with pytest.raises(WrongPin):
            await kiosk_try(session, card, WRONG_PIN)
    with pytest.raises(CardLocked):
        await kiosk_try(session, card, WRONG_PIN)

    await pins.unlock(session, card_id=card.id, actor=CLERK)

    await kiosk_try(session, card, GOOD_PIN)
    history = await citizen_card.history(session, card_id=card.id)
    assert (history[-1].actor, history[-1].reason) == (CLERK, "unlocked at the counter")
    with pytest.raises(CardNotFound):
        await pins.unlock(session, card_id=uuid.uuid4(), actor=CLERK)


async def test_a_card_reported_lost_refuses_even_the_right_pin(session):
    card = await card_with_pin(session)
    await citizen_card.report_lost(
        session, resident_id=card.resident_id, actor="hotline", channel="hotline"
    )

    with pytest.raises(CardNotUsable):
        await kiosk_try(session, card, GOOD_PIN)
    assert card.pin_failures == 0


async def test_a_replacement_card_keeps_the_pin_and_is_usable(session):
    old = await card_with_pin(session)
    await citizen_card.report_lost(
        session, resident_id=old.resident_id, actor="hotline", channel="hotline"
    )
    new = await citizen_card.replace(
        session,
        resident_id=old.resident_id,
        number="3205 0098 7654 3217",
        chip_uid="A1B2C3D4",
        actor=CLERK,
        channel="counter",
    )

    tapped = await citizen_card.by_chip_uid(session, "a1b2c3d4")
    assert tapped.id == new.id
    await kiosk_try(session, tapped, GOOD_PIN)
    with pytest.raises(CardNotUsable):
        await kiosk_try(session, old, GOOD_PIN)


# --- committed: a refused request keeps its count ---------------------------------------------


async def _committed_card(committed_db) -> Card:
    async with committed_db.unit_of_work() as session:
        return await card_with_pin(session)


async def _attempt(committed_db, card_id, pin):
    try:
        async with committed_db.unit_of_work() as session:
            card = await session.get(Card, card_id)
            await kiosk_try(session, card, pin)
    except Exception as exc:
        return exc
    return None


async def _failures(committed_db, card_id) -> tuple[int, object]:
    async with committed_db.unit_of_work() as session:
        card = await session.get(Card, card_id)
        return card.pin_failures, card.pin_locked_until


async def test_a_wrong_pin_is_counted_although_the_request_is_refused(committed_db):
    card = await _committed_card(committed_db)

    outcome = await _attempt(committed_db, card.id, WRONG_PIN)

    assert isinstance(outcome, WrongPin)
    assert (await _failures(committed_db, card.id))[0] == 1


async def test_the_lock_is_committed_and_recorded(committed_db):
    card = await _committed_card(committed_db)

    outcomes = [await _attempt(committed_db, card.id, WRONG_PIN) for _ in range(6)]

    assert [type(o) for o in outcomes] == [WrongPin] * 4 + [CardLocked] * 2
    failures, locked_until = await _failures(committed_db, card.id)
    assert failures == 5
    assert locked_until is not None
    async with committed_db.unit_of_work() as session:
        events = await citizen_card.history(session, card_id=card.id)
    assert sum("locked" in e.reason for e in events) == 1


async def test_concurrent_wrong_pins_are_all_counted(committed_db):
    card = await _committed_card(committed_db)

    outcomes = await asyncio.gather(*(_attempt(committed_db, card.id, WRONG_PIN) for _ in range(3)))

    assert all(isinstance(o, WrongPin) for o in outcomes), outcomes
    assert sorted(o.attempts_left for o in outcomes) == [2, 3, 4]
    assert (await _failures(committed_db, card.id))[0] == 3


async def test_concurrent_guesses_cannot_pass_the_fifth(committed_db):
    card = await _committed_card(committed_db)

    outcomes = await asyncio.gather(*(_attempt(committed_db, card.id, WRONG_PIN) for _ in range(7)))

    assert sorted(o.attempts_left for o in outcomes if isinstance(o, WrongPin)) == [1, 2, 3, 4]
    locked = [o for o in outcomes if isinstance(o, CardLocked)]
    assert len(locked) == 3, outcomes
    assert sum(o.keeps_changes for o in locked) == 1  # the fifth: it set the lock
    assert (await _failures(committed_db, card.id))[0] == 5
    assert await _attempt(committed_db, card.id, GOOD_PIN) is not None


# --- resets ----------------------------------------------------------------------------------


async def test_a_clerk_resets_a_forgotten_pin_and_lifts_the_lock(session):
    card = await card_with_pin(session)
    for _ in range(4):
        with pytest.raises(WrongPin):
            await kiosk_try(session, card, WRONG_PIN)
    with pytest.raises(CardLocked):
        await kiosk_try(session, card, WRONG_PIN)

    with pytest.raises(WeakPin):
        await pins.reset_pin_by_clerk(session, card_id=card.id, pin="111111", actor=CLERK)
    await pins.reset_pin_by_clerk(session, card_id=card.id, pin=OTHER_GOOD_PIN, actor=CLERK)

    await kiosk_try(session, card, OTHER_GOOD_PIN)
    history = await citizen_card.history(session, card_id=card.id)
    assert (history[-1].actor, history[-1].reason) == (CLERK, "PIN reset at the counter")


async def test_a_clerk_sets_no_pin_on_a_cancelled_card(session):
    card = await card_with_pin(session)
    await citizen_card.cancel(session, card_id=card.id, actor=CLERK, reason="moved away")

    with pytest.raises(CardNotUsable):
        await pins.reset_pin_by_clerk(session, card_id=card.id, pin=OTHER_GOOD_PIN, actor=CLERK)


async def test_the_resident_resets_the_pin_with_an_sms_code(session, redis):
    card = await card_with_pin(session)
    for _ in range(4):
        with pytest.raises(WrongPin):
            await kiosk_try(session, card, WRONG_PIN)
    with pytest.raises(CardLocked):
        await kiosk_try(session, card, WRONG_PIN)
    sms = CapturedSms()

    sent = await pins.send_reset_code(session, redis, sms, resident_id=card.resident_id)
    assert sent.expires_in == 300
    assert sms.sent[-1][0] == "13812345678"
    with pytest.raises(WrongCode):
        await pins.reset_pin_with_code(
            session,
            redis,
            resident_id=card.resident_id,
            assurance="real_name",
            code="000000" if sms.last_code() != "000000" else "000001",
            pin=OTHER_GOOD_PIN,
        )
    with pytest.raises(WeakPin):  # checked first: the code is not used up
        await pins.reset_pin_with_code(
            session,
            redis,
            resident_id=card.resident_id,
            assurance="real_name",
            code=sms.last_code(),
            pin="654321",
        )
    await pins.reset_pin_with_code(
        session,
        redis,
        resident_id=card.resident_id,
        assurance="real_name",
        code=sms.last_code(),
        pin=OTHER_GOOD_PIN,
    )

    await kiosk_try(session, card, OTHER_GOOD_PIN)
    assert card.status == CardStatus.ACTIVE


async def test_a_reset_with_a_code_needs_l2(session, redis):
    card = await card_with_pin(session)
    with pytest.raises(AssuranceTooLow):
        await pins.reset_pin_with_code(
            session,
            redis,
            resident_id=card.resident_id,
            assurance="phone",
            code="123456",
            pin=OTHER_GOOD_PIN,
        )
    unverified = await make_resident(session, phone="13900000009", verified=False)
    sms = CapturedSms()
    with pytest.raises(AssuranceTooLow):
        await pins.send_reset_code(session, redis, sms, resident_id=unverified.id)
    assert sms.sent == []
