"""The citizen card (市民卡) in the app and at the service counter.

Residents (`/v1/me/cards`): list their cards (numbers masked), bind a card (assurance L2+),
report it lost, set or change the card PIN, reset a forgotten PIN with an SMS code (L2+). Each
action lands in the resident's digital footprint (`identity.activity`).

Counter clerks (`/v1/staff/...`, role `counter_clerk`): issue and replace cards, freeze,
unfreeze, cancel, lift a PIN lock, set a PIN with the resident present, read a resident's cards
and a card's history.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, status
from pydantic import BaseModel, ConfigDict, Field

import citizen_card
from api.auth import CodeSentOut  # the sign-in code's answer: one schema for both
from api.deps import Session
from api.idempotency import idempotent
from api.pagination import PageRequest, Paging, page_of
from api.principal import (
    CurrentResident,
    OptionalResidentKey,
    Principal,
    ResidentKey,
    StaffPrincipal,
    require_staff,
)
from api.routing import contract_router
from citizen_card.errors import (
    AssuranceTooLow,
    CardAlreadyActive,
    CardLocked,
    CardNotFound,
    CardNotUsable,
    CardTaken,
    InvalidCardNumber,
    InvalidChipUid,
    OldPinRequired,
    WeakPin,
    WrongPin,
)
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from core.settings import get_settings
from identity import activity, residents
from identity.errors import (
    CodeExpired,
    ResendTooSoon,
    ResidentNotFound,
    SmsUnavailable,
    TooManyAttempts,
    WrongCode,
)
from identity.models import StaffRole
from identity.sms import sms_sender
from mobile_contract.problems import raises

router = contract_router(prefix="/v1/me/cards", tags=["app"])
staff_router = contract_router(prefix="/v1/staff", tags=["staff"])

counter_clerk = require_staff(StaffRole.COUNTER_CLERK)
CounterClerk = Annotated[StaffPrincipal, Depends(counter_clerk)]
ClerkKey = idempotent(counter_clerk, required=True)
OptionalClerkKey = idempotent(counter_clerk, required=False)
# Long enough for anything a person or reader could mean, short enough to refuse floods early;
# what is in between is judged (and refused with its own problem type) by citizen_card.numbers.
NumberText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="16 to 19 digits as printed on the card; spaces and hyphens are ignored.",
        examples=["3205 0000 0000 1234"],
    ),
]
ChipUidText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        description="What the reader reports: 8, 14 or 20 hex digits (4, 7 or 10 bytes).",
        examples=["04A2B3C4D5E680"],
    ),
]
PinText = Annotated[str, Field(min_length=1, max_length=32, examples=["385917"])]
ResetCode = Annotated[
    str, Field(min_length=1, max_length=12, description="The code texted to the resident.")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardIn(_In):
    number: NumberText
    chip_uid: ChipUidText


class ReportLostIn(_In):
    card_id: uuid.UUID | None = Field(
        default=None,
        description="One of the resident's cards; the active one when left out.",
        examples=["019cac2a-cca0-7c3d-9e4f-8a9b0c1d2e3f"],
    )


class PinIn(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"pin": "385917", "old_pin": "602814"}]}
    )

    pin: PinText
    old_pin: PinText | None = Field(default=None, description="Needed once a PIN is set.")


class ClerkPinIn(_In):
    pin: PinText


class PinResetIn(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "482913", "pin": "385917"}]})

    code: ResetCode
    pin: PinText


class ReasonIn(_In):
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="Kept in the card's history.",
        examples=["居民本人持身份证到柜台办理"],
    )


async def _footprint(
    session: Session, resident_id: uuid.UUID, verb: str, detail: dict[str, Any] | None = None
) -> None:
    await activity.record(
        session, resident_id=resident_id, channel="app", action=f"card.{verb}", detail=detail
    )


# --- the resident ------------------------------------------------------------------------------


@router.get("", summary="My cards")
async def my_cards(session: Session, me: CurrentResident, page: Paging) -> citizen_card.CardPage:
    """The resident's cards, newest first; numbers masked (`3205****1234`)."""
    found = await citizen_card.cards_of(session, resident_id=me.resident_id)
    await _footprint(session, me.resident_id, "list", {"cards": len(found)})
    return _cards_page(found, page)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Bind a card")
@raises(
    AssuranceTooLow,
    CardAlreadyActive,
    CardTaken,
    CardNotUsable,
    InvalidCardNumber,
    InvalidChipUid,
)
async def bind_card(
    body: CardIn, session: Session, me: CurrentResident, _key: Annotated[str, ResidentKey]
) -> citizen_card.CardOut:
    """Bind the citizen card the resident holds (number and chip UID); needs a verified real
    name (assurance L2: 403 `assurance-too-low`, send the resident to real-name verification).
    A card reported lost is replaced by the new one. Sending the same card again answers it
    unchanged, so a retry is safe. 409 `card-not-usable` when the resident's card is frozen (a
    counter clerk must see to it) or this very card was reported lost or cancelled before;
    409 `card-taken` when the number or the chip is on another card."""
    bound = await citizen_card.bind(
        session,
        resident_id=me.resident_id,
        assurance=await _assurance(session, me),
        number=body.number,
        chip_uid=body.chip_uid,
    )
    await _footprint(session, me.resident_id, "bind", {"card_id": str(bound.id)})
    return bound


@router.post("/report-lost", summary="Report my card lost")
@raises(CardNotFound, CardNotUsable)
async def report_my_card_lost(
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
    body: Annotated[ReportLostIn | None, Body()] = None,
) -> citizen_card.CardOut:
    """At once the card can no longer be used at kiosks or on the hotline. Without a body, the
    active card (or a frozen one); reporting again answers the same. 409 `card-not-usable` for a
    card already cancelled or replaced. Points stay with the resident; a new card is bound in
    the app or issued at a counter."""
    lost = await citizen_card.report_lost(
        session,
        resident_id=me.resident_id,
        actor=citizen_card.resident_actor(me.resident_id),
        channel="app",
        card_id=body.card_id if body is not None else None,
    )
    await _footprint(session, me.resident_id, "report_lost", {"card_id": str(lost.id)})
    return lost


@router.put("/pin", status_code=status.HTTP_204_NO_CONTENT, summary="Set or change my PIN")
@raises(CardNotFound, WrongPin, CardLocked, OldPinRequired, WeakPin)
async def set_my_pin(body: PinIn, session: Session, me: CurrentResident) -> None:
    """Set the 6-digit PIN of the active card, or change it (`old_pin` required then:
    422 `old-pin-required`). A wrong `old_pin` counts towards the lock, as at a kiosk: 401
    `wrong-pin` with `attempts_left`, and the fifth in a row locks the card for 24 hours (423
    `card-locked` with `locked_until`). An easy PIN is 422 `weak-pin`, `reason` naming the rule
    (show the resident which). 404 `card-not-found` without an active card."""
    await citizen_card.set_pin(
        session, resident_id=me.resident_id, pin=body.pin, old_pin=body.old_pin
    )
    active = await citizen_card.active_card(session, resident_id=me.resident_id)
    detail = {"card_id": str(active.id)} if active is not None else None
    await _footprint(session, me.resident_id, "set_pin", detail)


@router.post(
    "/pin-reset-codes", status_code=status.HTTP_202_ACCEPTED, summary="Text me a PIN reset code"
)
@raises(AssuranceTooLow, CardNotFound, ResendTooSoon, RateLimited, SmsUnavailable)
async def send_pin_reset_code(session: Session, me: CurrentResident) -> CodeSentOut:
    """Text a code for resetting a forgotten PIN to the resident's phone (L2 residents with an
    active card). At most one a minute (429 `otp-resend-too-soon`) and ten a day (429
    `rate-limited`), each with `retry_after`; 503 `sms-unavailable` may be retried at once."""
    redis = get_redis()
    await hit(redis, bucket=f"card-pin-reset:{me.subject}", limit=10, window_seconds=86400)
    sent = await citizen_card.send_reset_code(
        session, redis, sms_sender(get_settings()), resident_id=me.resident_id
    )
    await _footprint(session, me.resident_id, "pin_reset_code")
    return CodeSentOut(expires_in=sent.expires_in, resend_after=sent.resend_after)


@router.post("/pin-reset", status_code=status.HTTP_204_NO_CONTENT, summary="Reset my PIN")
@raises(
    AssuranceTooLow,
    CardNotFound,
    WeakPin,
    CodeExpired,
    WrongCode,
    TooManyAttempts,
)
async def reset_my_pin(
    body: PinResetIn,
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> None:
    """A new PIN with the texted code (assurance L2 required); lifts a PIN lock. The PIN is
    judged before the code, so a `weak-pin` leaves the code usable. 400 `otp-wrong` has
    `attempts_left`; after five wrong codes (429 `otp-locked`) or once it lapsed (400
    `otp-expired`) the resident asks for a new code."""
    await citizen_card.reset_pin_with_code(
        session,
        get_redis(),
        resident_id=me.resident_id,
        assurance=await _assurance(session, me),
        code=body.code,
        pin=body.pin,
    )
    active = await citizen_card.active_card(session, resident_id=me.resident_id)
    detail = {"card_id": str(active.id)} if active is not None else None
    await _footprint(session, me.resident_id, "reset_pin", detail)


# --- the counter -------------------------------------------------------------------------------


@staff_router.get("/residents/{resident_id}/cards", summary="A resident's cards")
async def resident_cards(
    resident_id: uuid.UUID, session: Session, clerk: CounterClerk, page: Paging
) -> citizen_card.CardPage:
    """The resident's cards, newest first; numbers masked."""
    return _cards_page(await citizen_card.cards_of(session, resident_id=resident_id), page)


@staff_router.post(
    "/residents/{resident_id}/cards", status_code=status.HTTP_201_CREATED, summary="Issue a card"
)
@raises(
    ResidentNotFound,
    CardAlreadyActive,
    CardTaken,
    CardNotUsable,
    InvalidCardNumber,
    InvalidChipUid,
)
async def issue_card(
    resident_id: uuid.UUID,
    body: CardIn,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str, ClerkKey],
) -> citizen_card.CardOut:
    """Hand a new card to a resident who has no active card: it is bound and active at once.
    409 `card-already-active` when they have one (replace it instead), `card-taken` when the
    number or chip is on another card, `card-not-usable` when it is an old card of theirs."""
    return await citizen_card.issue(
        session,
        resident_id=resident_id,
        number=body.number,
        chip_uid=body.chip_uid,
        actor=citizen_card.staff_actor(clerk.subject),
        channel="counter",
    )


@staff_router.post(
    "/residents/{resident_id}/cards/replace",
    status_code=status.HTTP_201_CREATED,
    summary="Replace a card",
)
@raises(
    ResidentNotFound,
    CardNotFound,
    CardAlreadyActive,
    CardTaken,
    CardNotUsable,
    InvalidCardNumber,
    InvalidChipUid,
)
async def replace_card(
    resident_id: uuid.UUID,
    body: CardIn,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str, ClerkKey],
) -> citizen_card.CardOut:
    """A new card for the resident's active, frozen or lost one, which becomes `replaced`.
    Points and history are the resident's: nothing moves; the new card keeps the PIN. 404
    `card-not-found` when there is nothing to replace (issue a card instead). Sending the same
    new card again answers it unchanged."""
    return await citizen_card.replace(
        session,
        resident_id=resident_id,
        number=body.number,
        chip_uid=body.chip_uid,
        actor=citizen_card.staff_actor(clerk.subject),
        channel="counter",
    )


@staff_router.get("/cards/{card_id}", summary="One card")
@raises(CardNotFound)
async def one_card(
    card_id: uuid.UUID, session: Session, clerk: CounterClerk
) -> citizen_card.CardOut:
    """The card, number masked; whether its PIN is set and until when it is locked."""
    return await citizen_card.card(session, card_id=card_id)


@staff_router.get("/cards/{card_id}/events", summary="A card's history")
@raises(CardNotFound)
async def card_events(
    card_id: uuid.UUID, session: Session, clerk: CounterClerk, page: Paging
) -> citizen_card.CardEventPage:
    """Every status change and PIN lock of the card, oldest first: who, through which
    channel, why."""
    return page_of(
        citizen_card.CardEventPage,
        await citizen_card.history(session, card_id=card_id),
        key=lambda e: e.id.hex,
        kind="e",
        page=page,
    )


@staff_router.post("/cards/{card_id}/freeze", summary="Freeze a card")
@raises(CardNotFound, CardNotUsable)
async def freeze_card(
    card_id: uuid.UUID,
    body: ReasonIn,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str | None, OptionalClerkKey],
) -> citizen_card.CardOut:
    """Unusable at kiosks and on the hotline until unfrozen; freezing again changes nothing.
    Only an issued or active card (409 `card-not-usable` otherwise)."""
    return await citizen_card.freeze(
        session, card_id=card_id, actor=citizen_card.staff_actor(clerk.subject), reason=body.reason
    )


@staff_router.post("/cards/{card_id}/unfreeze", summary="Unfreeze a card")
@raises(CardNotFound, CardAlreadyActive, CardNotUsable)
async def unfreeze_card(
    card_id: uuid.UUID,
    body: ReasonIn,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str | None, OptionalClerkKey],
) -> citizen_card.CardOut:
    """A frozen card becomes active again; an active one is answered as it is. 409
    `card-already-active` when the resident was given another card meanwhile,
    `card-not-usable` for a card that was never frozen (lost, cancelled, replaced)."""
    return await citizen_card.unfreeze(
        session, card_id=card_id, actor=citizen_card.staff_actor(clerk.subject), reason=body.reason
    )


@staff_router.post("/cards/{card_id}/cancel", summary="Cancel a card")
@raises(CardNotFound, CardNotUsable)
async def cancel_card(
    card_id: uuid.UUID,
    body: ReasonIn,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str | None, OptionalClerkKey],
) -> citizen_card.CardOut:
    """For good: the card can never be used or bound again. Cancelling again changes nothing;
    a replaced card cannot be cancelled (409 `card-not-usable`)."""
    return await citizen_card.cancel(
        session, card_id=card_id, actor=citizen_card.staff_actor(clerk.subject), reason=body.reason
    )


@staff_router.post("/cards/{card_id}/unlock", summary="Lift a PIN lock")
@raises(CardNotFound)
async def unlock_card(
    card_id: uuid.UUID,
    body: ReasonIn,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str | None, OptionalClerkKey],
) -> citizen_card.CardOut:
    """Clear the wrong-PIN count and lift the lock, before its 24 hours are up."""
    await citizen_card.unlock(
        session, card_id=card_id, actor=citizen_card.staff_actor(clerk.subject), reason=body.reason
    )
    return await citizen_card.card(session, card_id=card_id)


@staff_router.put(
    "/cards/{card_id}/pin", status_code=status.HTTP_204_NO_CONTENT, summary="Set a card's PIN"
)
@raises(CardNotFound, CardNotUsable, WeakPin)
async def set_card_pin(
    card_id: uuid.UUID, body: ClerkPinIn, session: Session, clerk: CounterClerk
) -> None:
    """With the resident at the counter: a new PIN, the lock lifted. Only for a card that is
    issued, active or frozen (409 `card-not-usable` otherwise)."""
    await citizen_card.reset_pin_by_clerk(
        session, card_id=card_id, pin=body.pin, actor=citizen_card.staff_actor(clerk.subject)
    )


async def _assurance(session: Session, me: Principal) -> str:
    """The resident's assurance as it stands now, not as it stood when this token's session
    began: a resident who has just verified their real name can bind a card at once."""
    return (await residents.get(session, resident_id=me.resident_id)).assurance


def _cards_page(cards: list[citizen_card.CardOut], page: PageRequest) -> citizen_card.CardPage:
    return page_of(
        citizen_card.CardPage, cards, key=lambda c: c.id.hex, kind="k", page=page, descending=True
    )
