"""Citizen card refusals. Each names its RFC 9457 problem type; the edges render them.

Card numbers, chip UIDs and PINs are personal data or secrets: no message or extension member
here ever carries one back to the caller, the logs or a traceback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from core import clock
from core.errors import DomainError, members

PinRule = Literal["format", "same-digit", "sequence", "repeating", "card-number", "birthday"]


class CardError(DomainError):
    type = "card-error"
    title = "The card request was refused"
    status = 422


class CardNotFound(CardError):
    type = "card-not-found"
    title = "No such card"
    status = 404


class CardAlreadyActive(CardError):
    """The resident already has an active card: one at a time."""

    type = "card-already-active"
    title = "The resident already has an active card"
    status = 409


class CardTaken(CardError):
    """The card number or chip is recorded on another card (another resident's, or an old one)."""

    type = "card-taken"
    title = "This card is already registered"
    status = 409


class CardNotUsable(CardError):
    """The card's status does not allow this (`status` says which it is)."""

    type = "card-not-usable"
    title = "The card cannot be used"
    status = 409
    example_extensions = members(status="reported_lost")

    def __init__(self, detail: str, *, status: str) -> None:
        super().__init__(detail, card_status=status)
        # `status` is the problem's own member (the HTTP status): the extension is `card_status`.
        self.card_status = status


class CardLocked(CardError):
    """Too many wrong PINs: no kiosk or hotline use until a clerk unlocks it or the time passes.
    Raised by the attempt that locks the card too, whose count must be kept."""

    type = "card-locked"
    title = "The card is locked after too many wrong PINs"
    status = 423
    example_extensions = members(locked_until="2026-12-04T09:30:00Z")

    def __init__(self, detail: str, *, locked_until: datetime, keeps_changes: bool = False) -> None:
        wait = max(1, int((locked_until - clock.now()).total_seconds()))
        super().__init__(detail, locked_until=locked_until, retry_after=wait)
        self.locked_until = locked_until
        self.keeps_changes = keeps_changes


class WrongPin(CardError):
    """The PIN is not right; `attempts_left` before the card locks. The failure is counted in
    the database, so the refusal keeps its changes."""

    type = "wrong-pin"
    title = "The card PIN is not correct"
    status = 401
    example_extensions = members(attempts_left=3)
    keeps_changes = True

    def __init__(self, detail: str, *, attempts_left: int) -> None:
        super().__init__(detail, attempts_left=attempts_left)
        self.attempts_left = attempts_left


class PinNotSet(CardError):
    """The card has no PIN yet: set one in the app or at the counter."""

    type = "pin-not-set"
    title = "The card has no PIN"
    status = 409


class OldPinRequired(CardError):
    """Changing a PIN needs the current one."""

    type = "old-pin-required"
    title = "Enter the current PIN to change it"
    status = 422


class WeakPin(CardError):
    """A PIN that is not 6 digits or is too easy to guess; `reason` says which rule."""

    type = "weak-pin"
    title = "The PIN is too easy to guess"
    status = 422
    example_extensions = members(reason="repeated")

    def __init__(self, detail: str, *, reason: PinRule) -> None:
        super().__init__(detail, reason=reason)
        self.reason: PinRule = reason


class InvalidCardNumber(CardError):
    type = "invalid-card-number"
    title = "The card number is not valid"
    status = 422


class InvalidChipUid(CardError):
    type = "invalid-chip-uid"
    title = "The chip UID is not valid"
    status = 422


class AssuranceTooLow(CardError):
    """The resident's identity is not verified enough (`required` names the level needed)."""

    type = "assurance-too-low"
    title = "Verify your real name first"
    status = 403
    example_extensions = members(required="real_name")

    def __init__(self, detail: str, *, required: str) -> None:
        super().__init__(detail, required=required)
        self.required = required
