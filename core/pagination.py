"""One way to page through every list: `{items, next_cursor}`, keyset cursors, one error.

Lists kept in the database page with their own keyset queries (their cursors encode the last
row's position with `core.cursors`); short lists a service reads whole (a resident's devices,
cards, consents, the rewards catalogue) page here with `page_after`, by the same rules: a
cursor names the last item shown, so items added or removed meanwhile never shift a page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from core import clock
from core.cursors import InvalidCursor, decode_key, encode_key

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_CURSOR_LENGTH",
    "MAX_LIMIT",
    "InvalidCursor",
    "Page",
    "page_after",
    "split_page",
    "time_key",
]

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 200


class Page(BaseModel, Generic[T]):
    """One page of a list. Subclass it per item type (`class CardPage(Page[CardOut])`) so the
    contract names the page after what it holds."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass back as `cursor` for the next page; null on the last page.",
        examples=["aDEyMzQ"],
    )


def split_page(
    rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]
) -> tuple[Sequence[T], str | None]:
    """Rows read one past `limit` (to learn whether another page follows): the page to show,
    and the cursor continuing after its last row (None on the last page)."""
    shown = rows[:limit]
    return shown, cursor_of(shown[-1]) if len(rows) > limit else None


def page_after(
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    kind: str,
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """A page of `items` in the order of their unique `key` (descending if so), starting after
    the cursor's key; and the cursor of the page after it, if any."""
    rest = sorted(items, key=key, reverse=descending)
    if cursor:
        after = decode_key(kind, cursor)
        rest = [i for i in rest if (key(i) < after if descending else key(i) > after)]
    page, next_cursor = split_page(rest, limit, lambda item: encode_key(kind, key(item)))
    return list(page), next_cursor


def time_key(at: datetime, unique: object) -> str:
    """A sort key ordering items by time, ties broken by `unique`: for lists shown most
    recently used first."""
    return f"{clock.as_utc(at):%Y%m%d%H%M%S%f}|{unique}"
