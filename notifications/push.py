"""Push notifications to residents' devices, behind one small interface.

`FcmPush` (notifications/fcm.py) sends through Firebase Cloud Messaging. `LoggingPush` is the
development default: it writes each push to the console log instead of sending it.
`push_sender()` picks one from the settings and refuses the console in production.

`send` never raises for a message or the network: every message gets a `PushResult` — sent, a
token to forget, or a retry for the worker to schedule. This module does not import
firebase-admin (about 0.4 s to import): only a process that really sends pays for it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from core.settings import Settings

ELLIPSIS = "…"
CONSOLE_BANNER = "*** DEVELOPMENT PUSH (not sent) ***"

log = structlog.get_logger(__name__)


class PushNotConfigured(RuntimeError):
    """The settings name no usable FCM service account where pushes must really be sent."""


@dataclass(frozen=True)
class PushMessage:
    delivery_id: uuid.UUID  # stable id of this (message, device) delivery
    token: str  # FCM registration token
    title: str
    body: str
    data: dict[str, str]
    urgent: bool


class PushOutcome(enum.StrEnum):
    SENT = "sent"
    INVALID_TOKEN = "invalid_token"  # remove the device's token; never retry  # noqa: S105
    RETRY = "retry"  # try again later


@dataclass(frozen=True)
class PushResult:
    outcome: PushOutcome
    # A short code for operators ("UNREGISTERED", "QUOTA_EXCEEDED", "HTTP 502"); never the token.
    error: str | None = None
    # Seconds FCM asked us to wait (its Retry-After header), when it said.
    retry_after: float | None = None


SENT = PushResult(PushOutcome.SENT)


class PushSender(Protocol):
    async def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        """One result per message, in the same order; never raises for a send that failed."""
        ...

    async def aclose(self) -> None:
        """Release what the sender holds (FcmPush: its Firebase app and HTTP connections)."""
        ...


def mask_token(token: str) -> str:
    """The first six characters of a push token: enough to tell tokens apart in a log."""
    return token[:6] + ELLIPSIS


class LoggingPush:
    """Development only: logs each push (masked token, full text) instead of sending it."""

    async def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        """Write a clearly marked `push.console` line per message; every one counts as sent."""
        for message in messages:
            log.warning(
                "push.console",
                banner=CONSOLE_BANNER,
                to=mask_token(message.token),
                title=message.title,
                body=message.body,
                notification_id=str(message.delivery_id),
            )
        return [SENT for _ in messages]

    async def aclose(self) -> None:
        """Nothing to release."""


def push_sender(settings: Settings) -> PushSender:
    """FCM when a service account is configured; else the console log, except in production,
    where a missing or unusable service account is a configuration error, never a silent log."""
    if settings.fcm_credentials_json is not None or settings.fcm_credentials_file:
        # Imported here: firebase-admin takes about 0.4 s to import, paid only by a sender.
        from notifications.fcm import FcmPush

        try:
            return FcmPush.from_settings(settings)
        except ValueError as exc:
            raise PushNotConfigured(f"FCM credentials unusable: {exc}") from None
    if settings.env == "production":
        raise PushNotConfigured(
            "WUJIANG_FCM_CREDENTIALS_JSON or WUJIANG_FCM_CREDENTIALS_FILE must be set in "
            "production (pushes are only logged elsewhere)"
        )
    return LoggingPush()
