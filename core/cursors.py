"""Opaque keyset cursors over time-ordered ids (UUIDv7): `base64url(kind + id.hex)`.

One spelling per position: `decode_id` refuses anything `encode_id` would not have written, so
a client cannot craft near-miss cursors. Callers turn the ValueError into their own problem."""

from __future__ import annotations

import base64
import binascii
import uuid

_ID_TEXT_LENGTH = 32  # uuid.hex


def encode_id(kind: str, item_id: uuid.UUID) -> str:
    """The cursor continuing after `item_id` in a list of `kind` (one letter per list)."""
    return base64.urlsafe_b64encode(f"{kind}{item_id.hex}".encode()).decode().rstrip("=")


def decode_id(kind: str, cursor: str) -> uuid.UUID:
    """The id a `kind` cursor continues after; ValueError for anything `encode_id` did not
    write for that kind."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        text = raw.decode("ascii")
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise ValueError("not a cursor") from exc
    if len(text) != len(kind) + _ID_TEXT_LENGTH or not text.startswith(kind):
        raise ValueError(f"not a {kind!r} cursor")
    item_id = uuid.UUID(hex=text[len(kind) :])
    if encode_id(kind, item_id) != cursor:
        raise ValueError("not the cursor's one spelling")
    return item_id
