"""Kiosk refusals. Each names its RFC 9457 problem type; `api.errors` renders them.

Authentication refusals say as little as possible: an unknown kiosk, a wrong secret and a
revoked kiosk get the same answer, as do an unknown chip and (on the card side) nothing else."""

from __future__ import annotations

from core.errors import DomainError


class KioskError(DomainError):
    type = "kiosk-error"
    title = "The kiosk request was refused"
    status = 400


class KioskUnauthenticated(KioskError):
    """No, malformed, unknown, wrong or revoked kiosk credentials: one answer for all."""

    type = "kiosk-unauthenticated"
    title = "The kiosk is not authenticated"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Kiosk realm="wujiang"'}


class KioskSessionExpired(KioskError):
    """No kiosk session under this token for this kiosk: never started, ended, expired or
    started on another kiosk."""

    type = "kiosk-session-expired"
    title = "The kiosk session has ended"
    status = 401


class CardRejected(KioskError):
    """The tapped chip belongs to no card we know (said without saying so)."""

    type = "card-rejected"
    title = "The card was not accepted"
    status = 401


class KioskNotFound(KioskError):
    type = "kiosk-not-found"
    title = "No such kiosk"
    status = 404


class KioskRevoked(KioskError):
    """A revoked kiosk stays revoked: register a new one instead of rotating it."""

    type = "kiosk-revoked"
    title = "The kiosk has been revoked"
    status = 409


class KioskCannotTakePayment(KioskError):
    """A reward with a cash part needs the app's payment sheet; a kiosk has none."""

    type = "kiosk-payment-unsupported"
    title = "This reward cannot be redeemed at a kiosk"
    status = 409
