"""Opaque keyset cursors: `base64url(kind + position)`, one letter `kind` per list.

Two spellings of a position: an id (UUIDv7, `encode_id`), or any sort key as text
(`encode_key`). Decoding refuses anything the encoder would not have written for that kind, so
a client cannot craft near-miss cursors or pass one list's cursor to another: every refusal is
the one `InvalidCursor` problem."""

from __future__ import annotations

import base64
import binascii
import uuid

from core.errors import DomainError

_ID_TEXT_LENGTH = 32  # uuid.hex


class InvalidCursor(DomainError):
    """A cursor this list did not issue: pass back `next_cursor` exactly as received."""

    type = "invalid-cursor"
    title = "The pagination cursor is not valid"
    status = 400


def encode_id(kind: str, item_id: uuid.UUID) -> str:
    """The cursor continuing after `item_id` in a list of `kind`."""
    return encode_key(kind, item_id.hex)


def decode_id(kind: str, cursor: str) -> uuid.UUID:
    """The id a `kind` cursor continues after; InvalidCursor for anything `encode_id` did not
    write for that kind."""
    text = decode_key(kind, cursor)
    if len(text) != _ID_TEXT_LENGTH:
        raise _invalid()
    try:
        item_id = uuid.UUID(hex=text)
    except ValueError as exc:
        raise _invalid() from exc
    if item_id.hex != text:
        raise _invalid()
    return item_id


def encode_key(kind: str, key: str) -> str:
    """The cursor continuing after the item whose sort key is `key`, in a list of `kind`."""
    return base64.urlsafe_b64encode(f"{kind}{key}".encode()).decode().rstrip("=")


def decode_key(kind: str, cursor: str) -> str:
    """The sort key a `kind` cursor continues after; InvalidCursor for anything `encode_key`
    did not write for that kind."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        text = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise _invalid() from exc
    if not text.startswith(kind) or encode_key(kind, text[len(kind) :]) != cursor:
        raise _invalid()
    return text[len(kind) :]


def _invalid() -> InvalidCursor:
    return InvalidCursor("The cursor is not one this list issued.")
