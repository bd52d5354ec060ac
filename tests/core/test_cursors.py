"""Keyset cursors over ids: they round-trip, and anything else is a ValueError, never a crash."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import cursors


@given(st.uuids())
def test_a_cursor_round_trips(item_id: uuid.UUID) -> None:
    assert cursors.decode_id("i", cursors.encode_id("i", item_id)) == item_id


@given(st.text(max_size=80))
def test_any_other_text_is_refused_with_a_value_error(text: str) -> None:
    try:
        found = cursors.decode_id("i", text)
    except ValueError:
        return
    assert cursors.encode_id("i", found) == text  # only a real cursor gets through


def test_a_cursor_of_another_list_or_spelling_is_refused() -> None:
    item_id = uuid.UUID("01a210dd-7fca-7000-89c2-3b97e39057e6")
    inbox = cursors.encode_id("i", item_id)
    with pytest.raises(ValueError, match="cursor"):
        cursors.decode_id("a", inbox)
    with pytest.raises(ValueError, match="cursor"):
        cursors.decode_id("i", inbox + "==")
    with pytest.raises(ValueError, match="cursor"):
        cursors.decode_id("i", cursors.encode_id("i", item_id).upper())
