"""Text messages to residents' phones, behind one small interface.

`HttpSms` posts to the operator's SMS gateway. `ConsoleSms` is the embedded development default:
it writes the message, code included, to the console log instead of sending it, which is the
only place a code may ever appear in a log. `sms_sender()` picks one from the settings and
refuses to fall back to the console outside development.
"""

from __future__ import annotations

from typing import Protocol

import httpx
import structlog

from core.crypto import mask_phone
from core.settings import Settings
from identity.errors import SmsUnavailable

GATEWAY_TIMEOUT_SECONDS = 5.0
CONSOLE_BANNER = "*** DEVELOPMENT SMS (not sent) ***"

log = structlog.get_logger(__name__)


class SmsNotConfigured(RuntimeError):
    """The settings name no SMS gateway in an environment where codes must really be sent."""


class SmsSender(Protocol):
    async def send(self, *, phone: str, text: str) -> None:
        """Deliver `text` to `phone`, or raise `SmsUnavailable`."""
        ...


class ConsoleSms:
    """Development only: logs the message (masked number, full text) instead of sending it."""

    async def send(self, *, phone: str, text: str) -> None:
        """Write a clearly marked `sms.console` line to the console log."""
        # Field names matter: the scrubber redacts `phone`/`otp`-like keys, so the masked number
        # goes in `to` and the text in `message`, on purpose, for the developer to read the code.
        log.warning("sms.console", banner=CONSOLE_BANNER, to=mask_phone(phone), message=text)


class HttpSms:
    """The operator's SMS gateway: `POST {"phone", "text"}` with a bearer token."""

    def __init__(self, url: str, token: str, *, timeout: float = GATEWAY_TIMEOUT_SECONDS) -> None:
        self._url = url
        self._token = token
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"HttpSms(url={self._url!r})"  # never the token

    async def send(self, *, phone: str, text: str) -> None:
        """Post the message; any transport failure or non-2xx answer is `SmsUnavailable`."""
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            # One client per message: texts are rare enough that pooling buys nothing, and no
            # client outlives the event loop that made it.
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(
                    self._url, json={"phone": phone, "text": text}, headers=headers
                )
        except httpx.HTTPError as exc:
            # Only the exception's class: its message may quote the request.
            log.error("sms.gateway_unreachable", error=type(exc).__name__)
            raise SmsUnavailable("The SMS gateway could not be reached.") from None
        if not response.is_success:
            log.error("sms.gateway_refused", status_code=response.status_code)
            raise SmsUnavailable(f"The SMS gateway answered {response.status_code}.")


def sms_sender(settings: Settings) -> SmsSender:
    """The sender the settings ask for: the gateway if configured, else the console in
    development; anywhere else a missing gateway is a configuration error, never a silent log."""
    url = settings.sms_gateway_url
    if url:
        if settings.sms_gateway_token is None:
            raise SmsNotConfigured(
                "WUJIANG_SMS_GATEWAY_URL is set but WUJIANG_SMS_GATEWAY_TOKEN is not"
            )
        return HttpSms(url, settings.sms_gateway_token.get_secret_value())
    if settings.env == "development":
        return ConsoleSms()
    raise SmsNotConfigured(
        f"WUJIANG_SMS_GATEWAY_URL is not set: env={settings.env} needs a real SMS gateway "
        "(codes are written to the console only in development)"
    )
