"""The card PIN: six digits, hashed with argon2 (identity.passwords), for kiosks and the hotline.

- Set and changed by the resident in the app (a change needs the current PIN); reset with
  assurance L2 plus an SMS code, or by a counter clerk. A reset also lifts a PIN lock: whoever
  guessed at the old PIN gains nothing from the new one.
- Trivial PINs are refused: one digit repeated, runs up or down (123456, 654321, 890123), short
  patterns repeated (121212, 123123), the card's own digits, the resident's birthday.
- 5 wrong PINs in a row lock the card for 24 hours or until a clerk unlocks it. The count and
  the lock are columns of the card, so they survive restarts; a wrong PIN is counted with an
  atomic `UPDATE … SET pin_failures = pin_failures + 1 … RETURNING`, and its refusal keeps that
  write (`keeps_changes`). Each check locks the card row first, so concurrent guesses are
  counted one after another and none slips past the fifth.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from citizen_card import cards
from citizen_card.errors import (
    CardLocked,
    CardNotFound,
    CardNotUsable,
    OldPinRequired,
    PinNotSet,
    WeakPin,
    WrongPin,
)
from citizen_card.models import Card, CardStatus
from core import clock
from core.settings import get_keyring
from identity import otp, passwords, residents
from identity.id_number import parse_id_number
from identity.otp import CodeSent, Language
from identity.sms import SmsSender

PIN_DIGITS = 6
MAX_FAILURES = 5
LOCK_FOR = timedelta(hours=24)
RESET_PURPOSE = "card-pin-reset"  # identity.otp purpose of the reset codes

_PIN = re.compile(rf"[0-9]{{{PIN_DIGITS}}}")
# A clerk may set a PIN on a card that can still be used, or will be again.
_PIN_SETTABLE = {CardStatus.ISSUED, CardStatus.ACTIVE, CardStatus.FROZEN}
card_t = cards.card_t
log = structlog.get_logger(__name__)


# --- the rules -------------------------------------------------------------------------------


def check_strength(pin: str, *, number: str | None = None, birth: date | None = None) -> None:
    """Refuse with `WeakPin` a PIN that is not 6 ASCII digits or is easy to guess: `number` is
    the card's canonical number, `birth` the resident's birthday (either may be unknown)."""
    if not _PIN.fullmatch(pin):
        raise WeakPin(f"A card PIN is {PIN_DIGITS} digits.", reason="format")
    digits = [int(d) for d in pin]
    if len(set(digits)) == 1:
        raise WeakPin("Do not use one digit repeated.", reason="same-digit")
    steps = {(b - a) % 10 for a, b in pairwise(digits)}
    if steps in ({1}, {9}):
        raise WeakPin("Do not use digits in a row, up or down.", reason="sequence")
    if pin[:2] * 3 == pin or pin[:3] * 2 == pin:
        raise WeakPin("Do not repeat a short pattern.", reason="repeating")
    if number is not None and (number[-4:] in pin or pin == number[-PIN_DIGITS:]):
        raise WeakPin("Do not use digits of the card number.", reason="card-number")
    if birth is not None and pin in _birthday_forms(birth):
        raise WeakPin("Do not use your birthday.", reason="birthday")


def _birthday_forms(birth: date) -> set[str]:
    yy, yyyy, mm, dd = f"{birth:%y}", f"{birth:%Y}", f"{birth:%m}", f"{birth:%d}"
    return {yy + mm + dd, mm + dd + yy, dd + mm + yy, yyyy + mm, mm + yyyy}


async def _personal(session: AsyncSession, card: Card) -> dict[str, Any]:
    """What a PIN must not be built from: the card's number and the resident's birthday."""
    keyring = get_keyring()
    number = keyring.decrypt(card.number_token, context=cards.NUMBER)
    resident = await residents.get(session, resident_id=card.resident_id)
    birth = None
    if resident.id_number_token is not None:
        id_number = keyring.decrypt(resident.id_number_token, context=residents.ID_NUMBER)
        birth = parse_id_number(id_number).birth_date
    return {"number": number, "birth": birth}


# --- checking --------------------------------------------------------------------------------


async def verify_pin(
    session: AsyncSession, *, card: Card, pin: str, actor: str, channel: str
) -> None:
    """Accept the card's PIN at a kiosk or on the hotline, or refuse: `CardNotUsable`,
    `CardLocked`, `PinNotSet`, `WrongPin` (counted, with `attempts_left`) or, at the fifth wrong
    PIN in a row, `CardLocked` (counted and recorded). A right PIN clears the count. `card` is
    re-read (and refreshed) under a row lock."""
    fresh = await cards.locked(session, card.id)
    if fresh is None:
        raise CardNotFound("No such card.")
    await _check(session, fresh, pin, actor=actor, channel=channel)


async def _check(session: AsyncSession, card: Card, pin: str, *, actor: str, channel: str) -> None:
    """The PIN check of a card whose row this transaction has locked."""
    cards.usable(card)
    if card.pin_hash is None:
        raise PinNotSet("This card has no PIN yet: set one in the app or at a counter.")
    # Anything but six digits is wrong without asking argon2 (and costs an attempt all the same).
    ok, new_hash = (
        passwords.verify_password(pin, card.pin_hash) if _PIN.fullmatch(pin) else (False, None)
    )
    if ok:
        if card.pin_failures or card.pin_locked_until is not None or new_hash:
            card.pin_failures = 0
            card.pin_locked_until = None
            card.pin_hash = new_hash or card.pin_hash
            await session.flush()
        return
    await _count_failure(session, card, actor=actor, channel=channel)


async def _count_failure(session: AsyncSession, card: Card, *, actor: str, channel: str) -> None:
    now = clock.now()
    # A lock that has run out leaves the count behind it: counting starts afresh.
    lapsed = card_t.c.pin_locked_until.is_not(None) & (card_t.c.pin_locked_until <= now)
    failures = case((lapsed, 1), else_=card_t.c.pin_failures + 1)
    result = await session.execute(
        update(card_t)
        .where(card_t.c.id == card.id)
        .values(
            pin_failures=failures,
            pin_locked_until=case((failures >= MAX_FAILURES, now + LOCK_FOR), else_=None),
            updated_at=now,
        )
        .returning(card_t.c.pin_failures, card_t.c.pin_locked_until)
    )
    count, locked_until = result.one()
    set_committed_value(card, "pin_failures", count)
    set_committed_value(card, "pin_locked_until", locked_until)
    set_committed_value(card, "updated_at", now)
    if locked_until is None:
        raise WrongPin("The PIN is not correct.", attempts_left=MAX_FAILURES - count)
    status = CardStatus(card.status)
    cards.add_event(
        session,
        card.id,
        status,
        status,
        actor=actor,
        channel=channel,
        reason=f"PIN locked after {MAX_FAILURES} wrong PINs",
    )
    await session.flush()
    log.warning("card.pin_locked", card_id=str(card.id), channel=channel)
    raise CardLocked(
        f"{MAX_FAILURES} wrong PINs: the card is locked; a counter clerk can unlock it.",
        locked_until=locked_until,
        keeps_changes=True,
    )


# --- setting ---------------------------------------------------------------------------------


async def set_pin(
    session: AsyncSession, *, resident_id: uuid.UUID, pin: str, old_pin: str | None = None
) -> None:
    """The resident sets the PIN of their active card, or changes it: a change needs the
    current PIN, checked (and counted when wrong) as at a kiosk."""
    card = await _active_locked(session, resident_id)
    check_strength(pin, **await _personal(session, card))
    if card.pin_hash is not None:
        if old_pin is None:
            raise OldPinRequired("Enter your current PIN to change it.")
        await _check(session, card, old_pin, actor=cards.resident_actor(resident_id), channel="app")
    await _store(session, card, pin)
    log.info("card.pin_set", card_id=str(card.id))


async def reset_pin_by_clerk(
    session: AsyncSession, *, card_id: uuid.UUID, pin: str, actor: str
) -> None:
    """A counter clerk sets a new PIN (the resident present); lifts any PIN lock."""
    card = await cards.locked(session, card_id)
    if card is None:
        raise CardNotFound("No such card.")
    if card.status not in _PIN_SETTABLE:
        raise CardNotUsable(f"A card that is {card.status} takes no PIN.", status=card.status)
    check_strength(pin, **await _personal(session, card))
    await _store(session, card, pin)
    _event(session, card, actor=actor, channel=cards.COUNTER, reason="PIN reset at the counter")
    await session.flush()
    log.info("card.pin_reset", card_id=str(card.id), actor=actor)


async def send_reset_code(
    session: AsyncSession, redis: Redis, sms: SmsSender, *, resident_id: uuid.UUID
) -> CodeSent:
    """Text a PIN-reset code to the resident's phone; only for residents at L2 or higher with
    an active card (nobody else could use it)."""
    resident = await residents.get(session, resident_id=resident_id)
    cards.require_assurance(resident.assurance)
    if await cards.active_card(session, resident_id=resident_id) is None:
        raise CardNotFound("You have no active card.")
    phone = get_keyring().decrypt(resident.phone_token, context=residents.PHONE)
    language: Language = "en" if resident.language == "en" else "zh"
    return await otp.send_code(
        redis,
        sms,
        key=resident.phone_index,
        phone=phone,
        purpose=RESET_PURPOSE,
        language=language,
    )


async def reset_pin_with_code(
    session: AsyncSession,
    redis: Redis,
    *,
    resident_id: uuid.UUID,
    assurance: str,
    code: str,
    pin: str,
) -> None:
    """The resident (L2 or higher) resets a forgotten PIN with the SMS code; lifts any PIN
    lock. The new PIN is checked before the code, so a weak one does not use the code up."""
    cards.require_assurance(assurance)
    card = await _active_locked(session, resident_id)
    check_strength(pin, **await _personal(session, card))
    resident = await residents.get(session, resident_id=resident_id)
    await otp.verify_code(redis, key=resident.phone_index, purpose=RESET_PURPOSE, code=code)
    await _store(session, card, pin)
    _event(
        session,
        card,
        actor=cards.resident_actor(resident_id),
        channel=cards.APP,
        reason="PIN reset with an SMS code",
    )
    await session.flush()
    log.info("card.pin_reset", card_id=str(card.id), channel=cards.APP)


async def unlock(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    actor: str,
    reason: str = "unlocked at the counter",
) -> None:
    """A counter clerk lifts the PIN lock (and clears the count of wrong PINs)."""
    card = await cards.locked(session, card_id)
    if card is None:
        raise CardNotFound("No such card.")
    if card.pin_failures == 0 and card.pin_locked_until is None:
        return
    card.pin_failures = 0
    card.pin_locked_until = None
    card.updated_at = clock.now()
    _event(session, card, actor=actor, channel=cards.COUNTER, reason=reason)
    await session.flush()
    log.info("card.pin_unlocked", card_id=str(card.id), actor=actor)


async def _active_locked(session: AsyncSession, resident_id: uuid.UUID) -> Card:
    active = await cards.active_card(session, resident_id=resident_id)
    card = await cards.locked(session, active.id) if active is not None else None
    if card is None or card.status != CardStatus.ACTIVE:
        raise CardNotFound("You have no active card.")
    return card


async def _store(session: AsyncSession, card: Card, pin: str) -> None:
    card.pin_hash = passwords.hash_password(pin)
    card.pin_failures = 0
    card.pin_locked_until = None
    card.updated_at = clock.now()
    await session.flush()


def _event(session: AsyncSession, card: Card, *, actor: str, channel: str, reason: str) -> None:
    status = CardStatus(card.status)
    cards.add_event(session, card.id, status, status, actor=actor, channel=channel, reason=reason)
