"""Card records and their lifecycle: issued at the counter or bound in the app, reported lost,
frozen, unfrozen, cancelled, replaced. Every status change adds a CardEvent saying who did it,
through which channel and why.

One active card per resident is the partial unique index `uq_citizen_card_one_active`; new cards
go in with `INSERT … ON CONFLICT DO NOTHING`, and a row that did not go in is explained by what
is there (the resident's active card, or the number or chip on another card), so racing requests
get a 409 and never a 500. Status changes lock the card row first (`FOR UPDATE` on PostgreSQL;
SQLite serialises writers), so each sees the status the previous one left.

Points and history belong to the resident, never to a card: replacing a card moves nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from citizen_card import numbers
from citizen_card.errors import (
    AssuranceTooLow,
    CardAlreadyActive,
    CardLocked,
    CardNotFound,
    CardNotUsable,
    CardTaken,
)
from citizen_card.models import Card, CardEvent, CardStatus
from citizen_card.schemas import CardEventOut, CardOut
from core import clock
from core.db import upsert
from core.ids import new_id
from core.settings import get_keyring
from identity import residents
from identity.models import Assurance, assurance_rank

NUMBER = "citizen_card.number"  # core.crypto contexts of the encrypted columns
CHIP_UID = "citizen_card.chip_uid"
APP = "app"
COUNTER = "counter"
SYSTEM = "system"

card_t = Card.metadata.tables["citizen_card"]
event_t = CardEvent.metadata.tables["citizen_card_event"]
log = structlog.get_logger(__name__)

# The statuses a card can leave for each target; a card already in the target is left alone.
_REPORTABLE = {CardStatus.ISSUED, CardStatus.ACTIVE, CardStatus.FROZEN}
_FREEZABLE = {CardStatus.ISSUED, CardStatus.ACTIVE}
_CANCELLABLE = {CardStatus.ISSUED, CardStatus.ACTIVE, CardStatus.REPORTED_LOST, CardStatus.FROZEN}
# Which of a resident's cards a replacement stands in for, in order of preference.
_REPLACEABLE = (CardStatus.ACTIVE, CardStatus.FROZEN, CardStatus.REPORTED_LOST)


def resident_actor(resident_id: uuid.UUID) -> str:
    return f"resident:{resident_id}"


def staff_actor(staff_id: uuid.UUID | str) -> str:
    return f"staff:{staff_id}"


def require_assurance(assurance: str, level: Assurance = Assurance.REAL_NAME) -> None:
    """Refuse with `AssuranceTooLow` unless `assurance` is `level` or higher."""
    if assurance_rank(assurance) < assurance_rank(level):
        raise AssuranceTooLow(
            "Verify your real name in the app (or at a counter) first.", required=level.value
        )


# --- reading ---------------------------------------------------------------------------------


async def cards_of(session: AsyncSession, *, resident_id: uuid.UUID) -> list[CardOut]:
    """The resident's cards, newest first, numbers masked."""
    rows = await session.scalars(
        select(Card).where(card_t.c.resident_id == resident_id).order_by(card_t.c.id.desc())
    )
    return [to_out(card) for card in rows]


async def card(session: AsyncSession, *, card_id: uuid.UUID) -> CardOut:
    """One card, number masked; `CardNotFound` if there is none."""
    return to_out(await _get(session, card_id))


async def history(session: AsyncSession, *, card_id: uuid.UUID) -> list[CardEventOut]:
    """Every status change (and PIN lock) of the card, oldest first."""
    await _get(session, card_id)
    rows = await session.scalars(
        select(CardEvent).where(event_t.c.card_id == card_id).order_by(event_t.c.id)
    )
    return [CardEventOut.model_validate(event, from_attributes=True) for event in rows]


async def by_chip_uid(session: AsyncSession, chip_uid: str) -> Card | None:
    """The card with this chip (any status), found through the blind index; `InvalidChipUid`
    if the text cannot be a chip UID."""
    index = get_keyring().blind_index(numbers.chip_uid(chip_uid), context=CHIP_UID)
    found = await session.scalars(select(Card).where(card_t.c.chip_uid_index == index))
    return found.one_or_none()


async def active_card(session: AsyncSession, *, resident_id: uuid.UUID) -> Card | None:
    """The resident's active card, if they have one."""
    found = await session.scalars(
        select(Card).where(
            card_t.c.resident_id == resident_id, card_t.c.status == CardStatus.ACTIVE.value
        )
    )
    return found.one_or_none()


async def card_for_hotline(
    session: AsyncSession, *, resident_id: uuid.UUID, last4: str
) -> Card | None:
    """The resident's active card if its last four digits are `last4`; None otherwise (a lost,
    frozen or cancelled card never answers)."""
    if not numbers.is_last4(last4):
        return None
    found = await active_card(session, resident_id=resident_id)
    return found if found is not None and found.last4 == last4 else None


def usable(card: Card) -> None:
    """Refuse a card that may not be used at a kiosk or on the hotline: `CardNotUsable` unless
    active, `CardLocked` while its PIN lock holds."""
    if card.status != CardStatus.ACTIVE:
        raise CardNotUsable(f"This card is {card.status} and cannot be used.", status=card.status)
    if card.pin_locked_until is not None and card.pin_locked_until > clock.now():
        raise CardLocked(
            "Too many wrong PINs: the card is locked; a counter clerk can unlock it.",
            locked_until=card.pin_locked_until,
        )


def to_out(card: Card) -> CardOut:
    number = get_keyring().decrypt(card.number_token, context=NUMBER)
    locked = card.pin_locked_until
    return CardOut(
        id=card.id,
        resident_id=card.resident_id,
        number=numbers.mask_number(number),
        last4=card.last4,
        status=CardStatus(card.status),
        replaces_id=card.replaces_id,
        pin_set=card.pin_hash is not None,
        locked_until=locked if locked is not None and locked > clock.now() else None,
        created_at=card.created_at,
        updated_at=card.updated_at,
    )


# --- new cards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NewCard:
    number: str
    number_index: str
    chip_uid: str
    chip_uid_index: str


def _parse(number: str, chip_uid: str) -> _NewCard:
    keyring = get_keyring()
    canonical_number = numbers.card_number(number)
    canonical_uid = numbers.chip_uid(chip_uid)
    return _NewCard(
        number=canonical_number,
        number_index=keyring.blind_index(canonical_number, context=NUMBER),
        chip_uid=canonical_uid,
        chip_uid_index=keyring.blind_index(canonical_uid, context=CHIP_UID),
    )


async def issue(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    number: str,
    chip_uid: str,
    actor: str,
    channel: str,
) -> CardOut:
    """A counter clerk hands over a card: recorded as issued and bound to the resident (active).
    `CardAlreadyActive` if the resident has an active card (a replacement is `replace`)."""
    new = _parse(number, chip_uid)
    await residents.get(session, resident_id=resident_id)
    created = await _create(
        session, resident_id, new, actor=actor, channel=channel, reason="issued at the counter"
    )
    log.info("card.issued", card_id=str(created.id), resident_id=str(resident_id))
    return to_out(created)


async def bind(
    session: AsyncSession, *, resident_id: uuid.UUID, assurance: str, number: str, chip_uid: str
) -> CardOut:
    """The resident binds a card they hold, in the app; needs assurance L2 (`real_name`) or
    higher. A card the resident reported lost is replaced by it; a frozen one must be seen to
    at the counter first."""
    require_assurance(assurance)
    new = _parse(number, chip_uid)
    retried = await _conflict(session, resident_id, new)
    if retried is not None:
        return to_out(retried)
    actor = resident_actor(resident_id)
    current = await _current(session, resident_id, (CardStatus.FROZEN, CardStatus.REPORTED_LOST))
    if current is not None and current.status == CardStatus.FROZEN:
        raise CardNotUsable(
            "Your card is frozen: please see a counter clerk.", status=current.status
        )
    if current is not None:
        await _change(
            session, current, CardStatus.REPLACED, actor=actor, channel=APP, reason="replaced"
        )
    created = await _create(
        session,
        resident_id,
        new,
        actor=actor,
        channel=APP,
        reason="bound in the app",
        replaces=current,
    )
    log.info("card.bound", card_id=str(created.id), resident_id=str(resident_id))
    return to_out(created)


async def replace(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    number: str,
    chip_uid: str,
    actor: str,
    channel: str,
) -> CardOut:
    """A counter clerk replaces the resident's card (active, frozen or reported lost, in that
    order of preference) with a new one: the old becomes `replaced`, the new is active, points
    to the old through `replaces_id` and keeps the resident's PIN."""
    new = _parse(number, chip_uid)
    await residents.get(session, resident_id=resident_id)
    retried = await _conflict(session, resident_id, new, replacing=True)
    if retried is not None:
        return to_out(retried)
    old = await _current(session, resident_id, _REPLACEABLE)
    if old is None:
        raise CardNotFound("The resident has no card to replace: issue one instead.")
    await _change(
        session, old, CardStatus.REPLACED, actor=actor, channel=channel, reason="replaced"
    )
    created = await _create(
        session,
        resident_id,
        new,
        actor=actor,
        channel=channel,
        reason="issued as a replacement",
        replaces=old,
    )
    log.info("card.replaced", card_id=str(created.id), replaces_id=str(old.id))
    return to_out(created)


async def _create(
    session: AsyncSession,
    resident_id: uuid.UUID,
    new: _NewCard,
    *,
    actor: str,
    channel: str,
    reason: str,
    replaces: Card | None = None,
) -> Card:
    """Insert the card as active, or explain with a refusal why it cannot go in."""
    keyring = get_keyring()
    now = clock.now()
    card_id = new_id()
    row = {
        "id": card_id,
        "resident_id": resident_id,
        "number_token": keyring.encrypt(new.number, context=NUMBER),
        "number_index": new.number_index,
        "last4": new.number[-4:],
        "chip_uid_token": keyring.encrypt(new.chip_uid, context=CHIP_UID),
        "chip_uid_index": new.chip_uid_index,
        "status": CardStatus.ACTIVE.value,
        # The PIN is the resident's: a replacement card keeps it (its failures start afresh).
        "pin_hash": replaces.pin_hash if replaces is not None else None,
        "pin_failures": 0,
        "replaces_id": replaces.id if replaces is not None else None,
        "created_at": now,
        "updated_at": now,
    }
    inserted = await session.execute(
        upsert(session, card_t).values(row).on_conflict_do_nothing().returning(card_t.c.id)
    )
    if inserted.first() is None:
        # A concurrent request took the number, the chip or the resident's active slot; the
        # insert waited for it to commit, so what is in the way is visible now.
        retried = await _conflict(session, resident_id, new)
        if retried is not None:
            return retried
        raise CardAlreadyActive("The card could not be recorded alongside a concurrent one.")
    for from_status, to_status, why in (
        (None, CardStatus.ISSUED, "card recorded"),
        (CardStatus.ISSUED, CardStatus.ACTIVE, reason),
    ):
        add_event(
            session, card_id, from_status, to_status, actor=actor, channel=channel, reason=why
        )
    await session.flush()
    return await _get(session, card_id)


async def _conflict(
    session: AsyncSession,
    resident_id: uuid.UUID,
    new: _NewCard,
    *,
    replacing: bool = False,
) -> Card | None:
    """Why `new` cannot become the resident's active card, as a refusal; the existing card if
    it already is (a retried request, answered the same), or None if nothing is in the way."""
    rows = list(
        await session.scalars(
            select(Card).where(
                or_(
                    card_t.c.number_index == new.number_index,
                    card_t.c.chip_uid_index == new.chip_uid_index,
                    (card_t.c.resident_id == resident_id)
                    & (card_t.c.status == CardStatus.ACTIVE.value),
                )
            )
        )
    )
    for found in rows:
        if (
            found.resident_id == resident_id
            and found.number_index == new.number_index
            and found.chip_uid_index == new.chip_uid_index
            and found.status == CardStatus.ACTIVE
        ):
            return found
    for found in rows:
        if found.number_index == new.number_index or found.chip_uid_index == new.chip_uid_index:
            if found.resident_id == resident_id and found.status != CardStatus.ACTIVE:
                raise CardNotUsable(
                    f"This card is recorded as {found.status}: it cannot be bound again.",
                    status=found.status,
                )
            raise CardTaken("This card number or chip is already registered to a card.")
    if rows and not replacing:
        raise CardAlreadyActive("The resident already has an active card.")
    return None


# --- status changes --------------------------------------------------------------------------


async def report_lost(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    actor: str,
    channel: str,
    card_id: uuid.UUID | None = None,
) -> CardOut:
    """Report the resident's card lost (`card_id`, else the active one): at once it can no
    longer be used at kiosks or on the hotline. Reporting it again answers the same."""
    if card_id is not None:
        found = await locked(session, card_id)
        if found is None or found.resident_id != resident_id:
            raise CardNotFound("No such card among yours.")
    else:
        found = await _current(
            session, resident_id, (CardStatus.ACTIVE, CardStatus.FROZEN, CardStatus.REPORTED_LOST)
        )
        if found is None:
            raise CardNotFound("You have no card to report lost.")
    changed = await _move(
        session,
        found,
        CardStatus.REPORTED_LOST,
        allowed=_REPORTABLE,
        actor=actor,
        channel=channel,
        reason="reported lost",
    )
    if changed:
        log.info("card.reported_lost", card_id=str(found.id), channel=channel)
    return to_out(found)


async def freeze(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    actor: str,
    reason: str,
    channel: str = COUNTER,
) -> CardOut:
    """A counter clerk freezes a card: unusable until unfrozen. Freezing twice is harmless."""
    return await _staff_move(
        session, card_id, CardStatus.FROZEN, _FREEZABLE, actor=actor, channel=channel, reason=reason
    )


async def unfreeze(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    actor: str,
    reason: str,
    channel: str = COUNTER,
) -> CardOut:
    """A counter clerk makes a frozen card active again; `CardAlreadyActive` if the resident
    has been given another active card meanwhile."""
    found = await _locked_or_404(session, card_id)
    if found.status == CardStatus.FROZEN:
        other = await active_card(session, resident_id=found.resident_id)
        if other is not None:
            raise CardAlreadyActive("The resident already has another active card.")
    try:
        async with session.begin_nested():
            changed = await _move(
                session,
                found,
                CardStatus.ACTIVE,
                allowed={CardStatus.FROZEN},
                actor=actor,
                channel=channel,
                reason=reason,
            )
    except IntegrityError:  # another card became active since the check above
        raise CardAlreadyActive("The resident already has another active card.") from None
    if changed:
        log.info("card.unfrozen", card_id=str(card_id), actor=actor)
    return to_out(found)


async def cancel(
    session: AsyncSession,
    *,
    card_id: uuid.UUID,
    actor: str,
    reason: str,
    channel: str = COUNTER,
) -> CardOut:
    """A counter clerk cancels a card for good. Cancelling twice is harmless."""
    return await _staff_move(
        session,
        card_id,
        CardStatus.CANCELLED,
        _CANCELLABLE,
        actor=actor,
        channel=channel,
        reason=reason,
    )


async def _staff_move(
    session: AsyncSession,
    card_id: uuid.UUID,
    to: CardStatus,
    allowed: set[CardStatus],
    *,
    actor: str,
    channel: str,
    reason: str,
) -> CardOut:
    found = await _locked_or_404(session, card_id)
    if await _move(
        session, found, to, allowed=allowed, actor=actor, channel=channel, reason=reason
    ):
        log.info("card.status_changed", card_id=str(card_id), status=to.value, actor=actor)
    return to_out(found)


async def _move(
    session: AsyncSession,
    found: Card,
    to: CardStatus,
    *,
    allowed: Iterable[CardStatus],
    actor: str,
    channel: str,
    reason: str,
) -> bool:
    """Move a locked card to `to`: False if it is there already, `CardNotUsable` if its status
    does not allow the move."""
    if found.status == to:
        return False
    if found.status not in set(allowed):
        raise CardNotUsable(
            f"A card that is {found.status} cannot become {to.value}.", status=found.status
        )
    await _change(session, found, to, actor=actor, channel=channel, reason=reason)
    return True


async def _change(
    session: AsyncSession, found: Card, to: CardStatus, *, actor: str, channel: str, reason: str
) -> None:
    add_event(
        session,
        found.id,
        CardStatus(found.status),
        to,
        actor=actor,
        channel=channel,
        reason=reason,
    )
    found.status = to.value
    found.updated_at = clock.now()
    await session.flush()


def add_event(
    session: AsyncSession,
    card_id: uuid.UUID,
    from_status: CardStatus | None,
    to_status: CardStatus,
    *,
    actor: str,
    channel: str,
    reason: str,
) -> None:
    """One line of the card's history (flushed with the session's next flush)."""
    session.add(
        CardEvent(
            id=new_id(),
            card_id=card_id,
            from_status=from_status.value if from_status is not None else None,
            to_status=to_status.value,
            actor=actor[:80],
            channel=channel[:16],
            reason=reason[:200],
            at=clock.now(),
        )
    )


# --- loading ---------------------------------------------------------------------------------


async def locked(session: AsyncSession, card_id: uuid.UUID) -> Card | None:
    """The card as it is now, its row locked until the transaction ends (PostgreSQL; SQLite
    serialises writers anyway). Refreshes a copy the session already holds."""
    found = await session.scalars(
        select(Card)
        .where(card_t.c.id == card_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return found.one_or_none()


async def _locked_or_404(session: AsyncSession, card_id: uuid.UUID) -> Card:
    found = await locked(session, card_id)
    if found is None:
        raise CardNotFound("No such card.")
    return found


async def _get(session: AsyncSession, card_id: uuid.UUID) -> Card:
    found = await session.scalars(
        select(Card).where(card_t.c.id == card_id).execution_options(populate_existing=True)
    )
    result = found.one_or_none()
    if result is None:
        raise CardNotFound("No such card.")
    return result


async def _current(
    session: AsyncSession, resident_id: uuid.UUID, statuses: tuple[CardStatus, ...]
) -> Card | None:
    """The resident's card in the first of `statuses` they have one in (the newest), locked."""
    rows = list(
        await session.scalars(
            select(Card)
            .where(
                card_t.c.resident_id == resident_id,
                card_t.c.status.in_([status.value for status in statuses]),
            )
            .order_by(card_t.c.id.desc())
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    for status in statuses:
        for found in rows:
            if found.status == status:
                return found
    return None
