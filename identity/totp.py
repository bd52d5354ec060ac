"""Time-based one-time passwords (RFC 6238, HOTP of RFC 4226): staff sign-in's second factor.

HMAC-SHA1, 30-second steps from the Unix epoch, 6 digits, secrets of 20 random bytes written
in unpadded base32: what every authenticator app (Google Authenticator, Microsoft Authenticator,
FreeOTP, 腾讯身份验证器) reads from an `otpauth://totp/` QR code.

A code is accepted for the current step and one step either side (clock drift of the phone), and
only for a step later than the last one accepted: each code works once, even within its window.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits: the HMAC-SHA1 block-size recommendation of RFC 4226 §4
DRIFT_STEPS = 1
ISSUER = "智慧吴江"


def new_secret() -> str:
    """A fresh random secret, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def step_at(at: datetime) -> int:
    """The RFC 6238 time step (T) that `at` falls in."""
    return int(at.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int, *, digits: int = DIGITS) -> str:
    """The HOTP value of `secret` for counter `step` (RFC 4226 §5.3, dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**digits:0{digits}d}"


def verify(
    secret: str, code: str, *, at: datetime, last_step: int, digits: int = DIGITS
) -> int | None:
    """The step `code` belongs to if it is right for `at` (±1 step) and that step is later than
    `last_step`; None otherwise. The caller stores the step so the code cannot be replayed."""
    code = code.strip().replace(" ", "")
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    now = step_at(at)
    matched: int | None = None
    # Every candidate is compared, matched or not, so timing does not tell which one matched.
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        expected = code_at(secret, step, digits=digits)
        if hmac.compare_digest(expected, code) and step > last_step and matched is None:
            matched = step
    return matched


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The `otpauth://totp/Issuer:account?...` URI an authenticator app scans (percent-encoded)."""
    label = quote(f"{issuer}:{account}", safe=":")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except binascii.Error:
        raise ValueError("the TOTP secret is not base32") from None
