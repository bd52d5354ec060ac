"""Real-name verification: does this name go with this ID number? An adapter over HTTP.

In the embedded development default there is no service to ask: the ID number's format is
checked and the result says so (`method="format-only"`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx
import structlog

from core.settings import Settings
from identity.errors import VerificationUnavailable
from identity.id_number import IdNumber

log = structlog.get_logger(__name__)
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Verdict:
    matched: bool
    method: str  # "service" or "format-only"


class RealNameVerifier(Protocol):
    async def check(self, *, name: str, id_number: IdNumber) -> Verdict: ...


class FormatOnlyVerifier:
    """Development only: the number parsed, so it passes; nothing vouches for the name."""

    async def check(self, *, name: str, id_number: IdNumber) -> Verdict:
        return Verdict(matched=True, method="format-only")


class HttpVerifier:
    """POSTs `{"name", "id_number"}` and expects `{"match": bool}`."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token

    async def check(self, *, name: str, id_number: IdNumber) -> Verdict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
                response = await http.post(
                    self.url, json={"name": name, "id_number": id_number.value}, headers=headers
                )
            response.raise_for_status()
            matched = response.json()["match"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("identity.verification_failed", error=type(exc).__name__)
            raise VerificationUnavailable(
                "Real-name verification is unavailable; try later."
            ) from (exc)
        if not isinstance(matched, bool):
            raise VerificationUnavailable("The verification service answered in an unknown form.")
        return Verdict(matched=matched, method="service")


def real_name_verifier(settings: Settings) -> RealNameVerifier:
    """The configured verifier (settings refuse to start without one outside development)."""
    if settings.verification_url:
        secret = settings.verification_token
        return HttpVerifier(
            settings.verification_url, secret.get_secret_value() if secret else None
        )
    return FormatOnlyVerifier()
