"""Voucher codes: unguessable, easy to read aloud and type, and carried in a QR payload.

A code is 26 characters of Crockford's base32 (130 random bits from `secrets`): no I, L, O or U,
so nothing a cashier types can be mistaken; what they type is normalised the same way
(lower case, dashes and spaces ignored, O read as 0, I and L as 1)."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 26  # 26 x 5 bits = 130 bits
QR_PREFIX = "wjv1:"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def qr_payload(code: str) -> str:
    """What the app draws as a QR code: versioned, so the format can change later."""
    return QR_PREFIX + code


def normalise(typed: str) -> str | None:
    """The canonical code for what a cashier typed or scanned; None if it cannot be one."""
    text = typed.strip()
    if text[: len(QR_PREFIX)].lower() == QR_PREFIX:
        text = text[len(QR_PREFIX) :]
    code = text.upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code
