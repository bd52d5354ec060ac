"""Earning codes: the QR the app shows a resident, which a staff member scans to award points.

A code is `WJE1.<payload>.<mac>`: the resident's id, an expiry about a minute ahead and a random
nonce, base64url, with a keyed HMAC over them. It is bound to the resident (a forged or edited
payload fails the HMAC), and stops working when it expires, so a screenshot sent around is
useless a minute later. Each code has an id (a hash of its payload); an award stores it, and a
unique constraint lets one code earn each behaviour once."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core import clock
from core.settings import get_keyring, get_settings
from points.errors import InvalidEarnCode
from points.schemas.awards import EarnCodeOut

PREFIX = "WJE1"
_CONTEXT = "points.earn-code"
_PAYLOAD = struct.Struct(">16sI6s")  # resident id, expiry (unix seconds), nonce
_MAC_BYTES = 16
MAX_LENGTH = 80
# Scanners and clocks disagree by a few seconds; a code a little past its time still counts.
_LEEWAY = timedelta(seconds=5)
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ScannedCode:
    resident_id: uuid.UUID
    code_id: str
    expires_at: datetime


def issue(resident_id: uuid.UUID) -> EarnCodeOut:
    """A fresh code for the resident; the app shows it as a QR and asks again before it expires."""
    ttl = get_settings().points_earn_code_ttl_seconds
    expires_at = clock.now().replace(microsecond=0) + timedelta(seconds=ttl)
    payload = _PAYLOAD.pack(resident_id.bytes, int(expires_at.timestamp()), secrets.token_bytes(6))
    code = f"{PREFIX}.{_b64(payload)}.{_b64(_mac(payload))}"
    return EarnCodeOut(
        code=code,
        qr_payload=code,
        expires_at=expires_at,
        refresh_after_seconds=max(ttl - 15, 5),
    )


def read(code: str) -> ScannedCode:
    """The resident a scanned code names; InvalidEarnCode if it is malformed, forged or expired."""
    payload = _verified_payload(code)
    raw_id, expires, _ = _PAYLOAD.unpack(payload)
    expires_at = datetime.fromtimestamp(expires, UTC)
    if clock.now() > expires_at + _LEEWAY:
        raise InvalidEarnCode("This code has expired: ask the resident to show a fresh one.")
    return ScannedCode(
        resident_id=uuid.UUID(bytes=raw_id),
        code_id=hashlib.sha256(payload).hexdigest()[:32],
        expires_at=expires_at,
    )


def _verified_payload(code: str) -> bytes:
    parts = code.split(".") if len(code) <= MAX_LENGTH else []
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidEarnCode("This is not a Smart Wujiang earning code.")
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise InvalidEarnCode("This is not a Smart Wujiang earning code.") from None
    if len(payload) != _PAYLOAD.size or not hmac.compare_digest(mac, _mac(payload)):
        raise InvalidEarnCode("This earning code is not genuine.")
    return payload


def _mac(payload: bytes) -> bytes:
    digest = get_keyring().blind_index(payload.hex(), context=_CONTEXT)
    return bytes.fromhex(digest)[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict base64url: only the canonical spelling of the bytes is accepted. The lenient
    decoder skips stray characters, takes `+`, `/` and padding, and ignores the unused low bits
    of the last character, so several spellings would name one code."""
    if not text or not text.isascii() or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical base64url of its bytes")
    return data
