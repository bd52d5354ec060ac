"""The cash part of points-plus-cash rewards: a Stripe-compatible PaymentIntents API over httpx,
and the verification of its signed webhooks (the `Stripe-Signature` scheme).

Only what the redemption flow needs: create a PaymentIntent (form-encoded, with an
Idempotency-Key so a retry never charges twice), read one back, and check a webhook."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog

from core import clock
from core.settings import Settings
from points.errors import InvalidWebhookSignature, PaymentProviderError, PaymentsUnavailable

PROVIDER_TIMEOUT_SECONDS = 10.0
# Stripe's default: a signed timestamp further than this from now is refused (replays).
SIGNATURE_TOLERANCE_SECONDS = 300
CURRENCY = "cny"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    client_secret: str | None
    status: str


def require_configured(settings: Settings) -> None:
    """Refuse points-plus-cash before anything is written when no provider is configured."""
    if not settings.payments_url or settings.payments_api_key is None:
        raise PaymentsUnavailable("Rewards with a cash part cannot be redeemed at the moment.")


async def create_intent(
    settings: Settings, *, redemption_id: str, amount: int, idempotency_key: str
) -> PaymentIntent:
    """A PaymentIntent for `amount` fen, tied to the redemption through its metadata."""
    form = {
        "amount": str(amount),
        "currency": CURRENCY,
        "metadata[redemption_id]": redemption_id,
        "automatic_payment_methods[enabled]": "true",
    }
    body = await _call(
        settings, "POST", "/v1/payment_intents", data=form, idempotency_key=idempotency_key
    )
    return _intent(body)


async def retrieve_intent(settings: Settings, *, intent_id: str) -> PaymentIntent:
    """A PaymentIntent read back (its client secret, for a replayed redemption request)."""
    return _intent(await _call(settings, "GET", f"/v1/payment_intents/{intent_id}"))


async def _call(
    settings: Settings,
    method: str,
    path: str,
    *,
    data: dict[str, str] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    require_configured(settings)
    url, key = settings.payments_url, settings.payments_api_key
    assert url is not None
    assert key is not None
    headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    url = url.rstrip("/") + path
    try:
        async with httpx.AsyncClient(timeout=PROVIDER_TIMEOUT_SECONDS) as client:
            response = await client.request(method, url, data=data, headers=headers)
    except httpx.HTTPError as exc:
        log.error("payments.provider_unreachable", error=type(exc).__name__, path=path)
        raise PaymentProviderError("The payment provider did not answer.") from None
    if not response.is_success:
        log.error("payments.provider_refused", status_code=response.status_code, path=path)
        raise PaymentProviderError(f"The payment provider answered {response.status_code}.")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PaymentProviderError("The payment provider's answer could not be read.")
    return body


def _intent(body: dict[str, Any]) -> PaymentIntent:
    intent_id, secret = body.get("id"), body.get("client_secret")
    if not isinstance(intent_id, str) or not intent_id:
        raise PaymentProviderError("The payment provider's answer has no PaymentIntent id.")
    return PaymentIntent(
        id=intent_id,
        client_secret=secret if isinstance(secret, str) else None,
        status=str(body.get("status", "")),
    )


# --- webhooks ----------------------------------------------------------------------------------


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The v1 signature of `payload` at `timestamp`: hex HMAC-SHA256 over `t.body`."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    now: datetime | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> None:
    """Accept the webhook if any `v1` signature in `Stripe-Signature` matches the raw body and
    its timestamp is within `tolerance` seconds of now; else InvalidWebhookSignature."""
    timestamp, signatures = _parse_header(header)
    moment = (now or clock.now()).timestamp()
    if abs(moment - timestamp) > tolerance:
        raise InvalidWebhookSignature("The webhook's timestamp is outside the tolerance.")
    expected = sign(payload, secret, timestamp)
    # Every candidate is compared, in constant time, so timing tells nothing of which matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise InvalidWebhookSignature("No signature matches the webhook's body.")


def _parse_header(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise InvalidWebhookSignature("The Stripe-Signature header is missing.")
    timestamps, signatures = [], []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1" and value:
            signatures.append(value)
    if (
        len(timestamps) != 1
        or not (timestamps[0].isascii() and timestamps[0].isdigit())
        or len(timestamps[0]) > 12
    ):
        raise InvalidWebhookSignature("The Stripe-Signature header has no valid timestamp.")
    if not signatures:
        raise InvalidWebhookSignature("The Stripe-Signature header has no v1 signature.")
    return int(timestamps[0]), signatures
