"""Signed requests from the 12345 call-centre system.

Every request to `/v1/hotline/...` carries four headers::

    X-Hotline-Key:       <kid>             which shared secret signed it (1-32 of A-Z a-z 0-9 _ -)
    X-Hotline-Timestamp: <unix seconds>    decimal digits, when the request was signed
    X-Hotline-Nonce:     <16-64 characters of A-Z a-z 0-9 _ ->, fresh for every request
    X-Hotline-Signature: <64 hex digits>   HMAC-SHA256 of the string to sign under the kid's secret

The string to sign is five lines joined by a line feed (`\\n`, no trailing one), UTF-8 encoded::

    {timestamp}\\n{nonce}\\n{METHOD}\\n{path}\\n{sha256 of the body}

- `timestamp` and `nonce`: exactly as sent in their headers;
- `METHOD`: the HTTP method in capitals (`GET`, `POST`);
- `path`: the request path exactly as sent, percent-encoding kept (`/v1/hotline/ivr/balance`),
  followed by `?` and the query string if the request has one;
- the body hash: lowercase hex SHA-256 of the exact body bytes (of nothing, for a GET:
  `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`).

A request is refused with 401 and, as problem type:
- `hotline-signature-invalid`: a header missing or malformed, an unknown key id, or a signature
  that does not match (one answer for all, so a prober learns nothing of which);
- `hotline-request-expired`: the timestamp is more than 5 minutes from our clock, either way
  (the problem's `server_time` says what our clock reads);
- `hotline-replay`: the nonce was already used with this key in the last 10 minutes.

The signature is checked before the nonce is remembered, so a forged request cannot use up a
nonce the call centre is about to send. Keys rotate: every key listed in `WUJIANG_HOTLINE_KEYS`
verifies, so the call centre switches to a new kid at its own pace and the old one is removed
afterwards. Without keys configured every request is answered 503 `hotline-not-configured`."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import structlog
from redis.asyncio import Redis

from core import clock
from core.errors import DomainError, members
from core.settings import get_settings

KEY_HEADER = "X-Hotline-Key"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
NONCE_HEADER = "X-Hotline-Nonce"
SIGNATURE_HEADER = "X-Hotline-Signature"
WINDOW = timedelta(minutes=5)
# Longer than the whole span a timestamp is accepted in (5 minutes either side of it).
NONCE_MEMORY = timedelta(minutes=10)
SECRET_MIN_LENGTH = 32
NONCE_PREFIX = "hotline:nonce:"

_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")

log = structlog.get_logger(__name__)


class HotlineError(DomainError):
    type = "hotline-error"
    title = "The hotline request was refused"
    status = 400


class HotlineNotConfigured(HotlineError):
    type = "hotline-not-configured"
    title = "The hotline channel is not configured"
    status = 503


class SignatureInvalid(HotlineError):
    type = "hotline-signature-invalid"
    title = "The request signature is not valid"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'HMAC realm="wujiang-hotline"'}


class RequestExpired(HotlineError):
    type = "hotline-request-expired"
    title = "The request timestamp is outside the allowed window"
    status = 401
    example_extensions = members(server_time=1796369400)


class Replayed(HotlineError):
    type = "hotline-replay"
    title = "The request nonce has already been used"
    status = 401


@dataclass(frozen=True)
class SignedCall:
    """A request the call centre verifiably sent: which key signed it, and its nonce."""

    kid: str
    nonce: str

    @property
    def idempotency_scope(self) -> str:
        """The call centre's keys, whichever of its shared keys signed the request."""
        return "hotline"


def parse_keys(spec: str) -> dict[str, bytes]:
    """`kid:secret,kid:secret` as {kid: secret bytes}, the current (first) key first. Secrets
    are at least 32 characters. ValueError names a bad entry by position, never its content."""
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(spec.split(","), start=1):
        kid, colon, secret = entry.strip().partition(":")
        if not colon or not _KID.fullmatch(kid):
            raise ValueError(
                f"entry {position} is not kid:secret (a key id of 1-32 letters, "
                "digits, '_' or '-', a colon, then the secret)"
            )
        if len(secret) < SECRET_MIN_LENGTH:
            raise ValueError(f"the secret of key {kid!r} is under {SECRET_MIN_LENGTH} characters")
        if kid in keys:
            raise ValueError(f"key id {kid!r} appears more than once")
        keys[kid] = secret.encode("utf-8")
    return keys


@lru_cache(maxsize=4)
def _parsed(spec: str) -> dict[str, bytes]:
    return parse_keys(spec)


def configured_keys() -> dict[str, bytes]:
    """The keys from `WUJIANG_HOTLINE_KEYS`; HotlineNotConfigured if unset or malformed."""
    secret = get_settings().hotline_keys
    if secret is None or not secret.get_secret_value().strip():
        raise HotlineNotConfigured("The hotline channel has no signing keys configured.")
    try:
        return _parsed(secret.get_secret_value())
    except ValueError as exc:
        log.error("hotline.keys_malformed", problem=str(exc))
        raise HotlineNotConfigured("The hotline signing keys are misconfigured.") from None


def string_to_sign(*, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> bytes:
    """The exact bytes the signature covers (see the module docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n{digest}".encode()


def sign(secret: bytes, *, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    """The `X-Hotline-Signature` of a request: what the call centre computes (and tests)."""
    message = string_to_sign(timestamp=timestamp, nonce=nonce, method=method, path=path, body=body)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


async def verify(
    redis: Redis,
    keys: Mapping[str, bytes],
    *,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
) -> SignedCall:
    """The signed call if the headers prove the request; SignatureInvalid, RequestExpired or
    Replayed otherwise. Signature first, then the clock, and only then the nonce."""
    kid = headers.get(KEY_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    nonce = headers.get(NONCE_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    secret = keys.get(kid)
    wellformed = (
        _TIMESTAMP.fullmatch(timestamp)
        and _NONCE.fullmatch(nonce)
        and _SIGNATURE.fullmatch(signature)
    )
    # A stand-in secret for an unknown kid: the comparison costs the same either way.
    expected = sign(
        secret or b"\0" * SECRET_MIN_LENGTH,
        timestamp=timestamp,
        nonce=nonce,
        method=method,
        path=path,
        body=body,
    )
    # compare_digest wants ASCII: only a well-formed (hex) signature reaches it.
    matches = bool(wellformed) and hmac.compare_digest(expected, signature.lower())
    if secret is None or not matches:
        log.info("hotline.signature_refused", kid=kid[:32] if _KID.fullmatch(kid) else None)
        raise SignatureInvalid("The request is not signed with a hotline key we know.")
    now = clock.now()
    if abs(now.timestamp() - int(timestamp)) > WINDOW.total_seconds():
        raise RequestExpired(
            "The timestamp is more than 5 minutes from the server's clock.",
            server_time=int(now.timestamp()),
        )
    remembered = await redis.set(
        f"{NONCE_PREFIX}{kid}:{nonce}", "1", nx=True, ex=int(NONCE_MEMORY.total_seconds())
    )
    if not remembered:
        log.warning("hotline.replay_refused", kid=kid)
        raise Replayed("This nonce was used within the last 10 minutes.")
    return SignedCall(kid=kid, nonce=nonce)
