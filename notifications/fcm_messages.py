"""Building FCM messages from pushes, and reading FCM's answers back as push results.

Each message carries its delivery id as Android tag and collapse key and as APNs collapse id, so
a push sent twice (a worker died before recording the first) replaces itself on the device.
Bodies are shortened to keep under FCM's 4096-byte payload limit. FCM's UNREGISTERED, and
INVALID_ARGUMENT about the token, ask to forget the token; anything else is retried later, with
FCM's Retry-After when it gave one.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

import httpx
from firebase_admin import exceptions, messaging  # type: ignore[import-untyped]

from core import clock
from notifications.push import ELLIPSIS, SENT, PushMessage, PushOutcome, PushResult

# FCM refuses payloads over 4096 bytes; notification plus data are kept under this.
PAYLOAD_BUDGET_BYTES = 3800

_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_TOKEN_FIELDS = frozenset({"message.token", "message.fid"})


def fcm_message(message: PushMessage) -> Any:
    """The FCM message for a push: one tag / collapse id per delivery, so a push sent twice
    (a worker died before recording it) replaces itself on the device rather than showing twice."""
    notification_id = str(message.delivery_id)
    data = {**message.data, "notification_id": notification_id}
    title, body = fit_payload(message.title, message.body, data)
    fcm = messaging.Message(
        notification=messaging.Notification(title=title, body=body),
        data=data,
        android=messaging.AndroidConfig(
            priority="high" if message.urgent else "normal",
            collapse_key=notification_id,
            notification=messaging.AndroidNotification(tag=notification_id),
        ),
        apns=messaging.APNSConfig(
            headers={
                "apns-collapse-id": notification_id,
                "apns-priority": "10" if message.urgent else "5",
            }
        ),
    )
    # Set after construction: firebase-admin 7.7 deprecates the `token` argument for `fid`
    # (installation ids), yet FCM's `token` field is what a registration token goes in.
    fcm.token = message.token
    return fcm


def payload_size(title: str, body: str, data: Mapping[str, str]) -> int:
    """UTF-8 bytes of the notification and data as JSON: what FCM's 4096-byte limit counts."""
    payload = {"notification": {"title": title, "body": body}, "data": data}
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def fit_payload(
    title: str, body: str, data: Mapping[str, str], *, budget: int = PAYLOAD_BUDGET_BYTES
) -> tuple[str, str]:
    """Title and body, the body (then, if need be, the title) shortened with "…" until the
    payload fits the budget, if it can. The data is never touched: the app needs all of it."""
    if payload_size(title, body, data) <= budget:
        return title, body
    body = _shortened(body, lambda text: payload_size(title, text, data) <= budget)
    if payload_size(title, body, data) > budget:
        title = _shortened(title, lambda text: payload_size(text, body, data) <= budget)
    return title, body


def _shortened(text: str, fits: Callable[[str], bool]) -> str:
    """The longest prefix of `text` plus "…" that fits; "" if not even "…" does."""
    low, high = 0, len(text) - 1  # prefix lengths; a shortened text is always shorter
    if high < 0 or not fits(ELLIPSIS):
        return ""
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle] + ELLIPSIS):
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def classify(response: Any) -> PushResult:
    """What one of send_each_async's SendResponses means for the delivery."""
    if response.success:
        return SENT
    error = response.exception
    if error is None:
        return PushResult(PushOutcome.RETRY, "NO_MESSAGE_ID")
    if isinstance(error, messaging.UnregisteredError):
        return PushResult(PushOutcome.INVALID_TOKEN, "UNREGISTERED")
    details = _error_details(error)
    fcm_code = next((d.get("errorCode") for d in details if d.get("@type") == _FCM_ERROR), None)
    if isinstance(error, exceptions.InvalidArgumentError):
        if fcm_code is not None and _blames_the_token(details):
            return PushResult(PushOutcome.INVALID_TOKEN, "INVALID_ARGUMENT")
        # The message itself is malformed: retried, until the worker dead-letters it.
        return PushResult(PushOutcome.RETRY, "INVALID_MESSAGE")
    return PushResult(PushOutcome.RETRY, _error_code(error, fcm_code), _retry_after_of(error))


def _blames_the_token(details: list[dict[str, Any]]) -> bool:
    """An FcmError INVALID_ARGUMENT is about the token unless FCM names another field."""
    fields = {
        violation.get("field")
        for detail in details
        if detail.get("@type") == _BAD_REQUEST
        for violation in detail.get("fieldViolations") or []
        if isinstance(violation, dict)
    }
    return not fields or bool(fields & _TOKEN_FIELDS)


def _error_details(error: Any) -> list[dict[str, Any]]:
    details = _error_body(error).get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _error_body(error: Any) -> dict[str, Any]:
    """The `error` object of the HTTP answer behind a FirebaseError, {} if there is none."""
    response = error.http_response
    if not isinstance(response, httpx.Response):
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    inner = body.get("error") if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else {}


def _error_code(error: Any, fcm_code: Any) -> str:
    if isinstance(fcm_code, str) and fcm_code:
        return fcm_code
    response = error.http_response
    if isinstance(response, httpx.Response):
        status = _error_body(error).get("status")
        return status if isinstance(status, str) and status else f"HTTP {response.status_code}"
    return str(error.code)  # no answer at all: DEADLINE_EXCEEDED, UNAVAILABLE, UNKNOWN


def _retry_after_of(error: Any) -> float | None:
    response = error.http_response
    if not isinstance(response, httpx.Response):
        return None
    return parse_retry_after(response.headers.get("Retry-After"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP-date (never negative)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())
