"""Keyset cursors: they round-trip, anything else is the one InvalidCursor refusal (never a
crash), and a page of a short list continues exactly after the last item shown."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import cursors
from core.pagination import InvalidCursor, page_after


@given(st.uuids())
def test_an_id_cursor_round_trips(item_id: uuid.UUID) -> None:
    assert cursors.decode_id("i", cursors.encode_id("i", item_id)) == item_id


@given(st.text(max_size=40))
def test_a_key_cursor_round_trips(key: str) -> None:
    assert cursors.decode_key("k", cursors.encode_key("k", key)) == key


@given(st.text(max_size=80))
def test_any_other_text_is_refused_as_an_invalid_cursor(text: str) -> None:
    for decode in (cursors.decode_id, cursors.decode_key):
        try:
            found = decode("i", text)
        except InvalidCursor:
            continue
        encode = cursors.encode_id if decode is cursors.decode_id else cursors.encode_key
        assert encode("i", found) == text  # type: ignore[arg-type]  # only real cursors pass


def test_a_cursor_of_another_list_or_spelling_is_refused() -> None:
    item_id = uuid.UUID("01a210dd-7fca-7000-89c2-3b97e39057e6")
    inbox = cursors.encode_id("i", item_id)
    for kind, cursor in [("a", inbox), ("i", inbox + "=="), ("i", inbox.upper()), ("i", "")]:
        with pytest.raises(InvalidCursor, match="cursor"):
            cursors.decode_id(kind, cursor)


def test_an_id_cursor_needs_a_whole_id() -> None:
    with pytest.raises(InvalidCursor):
        cursors.decode_id("i", cursors.encode_key("i", "0" * 31))
    with pytest.raises(InvalidCursor):
        cursors.decode_id("i", cursors.encode_key("i", "g" * 32))


@given(
    st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=30),
    st.integers(min_value=1, max_value=7),
    st.booleans(),
)
def test_pages_of_a_short_list_cover_it_once_in_order(
    keys: list[str], limit: int, descending: bool
) -> None:
    ordered = sorted(keys, reverse=descending)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = page_after(
            ordered, key=str, kind="t", cursor=cursor, limit=limit, descending=descending
        )
        assert len(page) <= limit
        seen += page
        if cursor is None:
            break
    assert seen == ordered


def test_a_page_continues_after_its_item_even_when_that_item_is_gone() -> None:
    first, cursor = page_after(["a", "b", "c", "d"], key=str, kind="t", cursor=None, limit=2)
    assert (first, cursor is not None) == (["a", "b"], True)

    rest, last = page_after(["a", "c", "d", "e"], key=str, kind="t", cursor=cursor, limit=5)

    assert (rest, last) == (["c", "d", "e"], None)
