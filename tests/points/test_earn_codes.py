"""Earning codes: bound to one resident, short-lived, and refused whole if any part is edited.

Whatever a scanner sends, the reader answers with the resident or with `InvalidEarnCode`, never
anything else (so the API answers 422 `invalid-earn-code`, never 500)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import clock
from points.errors import InvalidEarnCode
from points.service import earn_codes

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def fresh(resident_id: uuid.UUID | None = None) -> str:
    with clock.frozen(AT):
        return earn_codes.issue(resident_id or uuid.uuid4()).code


def refused(code: str) -> None:
    with clock.frozen(AT), pytest.raises(InvalidEarnCode):
        earn_codes.read(code)


def test_a_code_names_its_resident_for_about_a_minute() -> None:
    resident = uuid.uuid4()
    with clock.frozen(AT):
        issued = earn_codes.issue(resident)
        scanned = earn_codes.read(issued.code)
        clock.advance(timedelta(seconds=64))  # inside the scanners' leeway
        assert earn_codes.read(issued.code).resident_id == resident
        clock.advance(timedelta(seconds=2))
        with pytest.raises(InvalidEarnCode, match="expired"):
            earn_codes.read(issued.code)
    assert scanned.resident_id == resident
    assert issued.expires_at == AT + timedelta(seconds=60)
    assert issued.qr_payload == issued.code
    assert 0 < issued.refresh_after_seconds < 60


def test_each_code_has_its_own_id() -> None:
    resident = uuid.uuid4()
    with clock.frozen(AT):
        ids = {earn_codes.read(earn_codes.issue(resident).code).code_id for _ in range(20)}
    assert len(ids) == 20


def test_swapping_parts_between_two_residents_codes_is_refused() -> None:
    prefix, payload_a, mac_a = fresh().split(".")
    _, payload_b, mac_b = fresh().split(".")
    refused(f"{prefix}.{payload_a}.{mac_b}")
    refused(f"{prefix}.{payload_b}.{mac_a}")


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c[:-1],
        lambda c: c[:20],
        lambda c: c + "A",
        lambda c: c + "=",
        lambda c: c + ".x",
        lambda c: " " + c,
        lambda c: c + "\n",
        lambda c: "WJE2" + c[4:],
        lambda c: c.lower(),
        lambda c: c.replace(".", ":"),
        lambda c: c.split(".", 1)[1],
        lambda c: c.replace(".", ".=", 1),
        lambda c: c + "é",
        lambda c: "码" + c[1:],
        lambda c: c * 40,
        lambda c: "",
        lambda c: "...",
        lambda c: "WJE1..",
    ],
)
def test_malformed_codes_are_refused(edit) -> None:
    refused(edit(fresh()))


@given(part=st.sampled_from([1, 2]), position=st.integers(0, 200), char=st.sampled_from(B64URL))
def test_changing_any_one_character_is_refused(part: int, position: int, char: str) -> None:
    parts = fresh().split(".")
    text = parts[part]
    position %= len(text)
    if text[position] == char:
        return
    parts[part] = text[:position] + char + text[position + 1 :]
    refused(".".join(parts))


@given(text=st.text(max_size=200))
def test_any_text_is_refused_with_the_one_error(text: str) -> None:
    refused(text)


@given(payload=st.binary(min_size=0, max_size=40), mac=st.binary(min_size=0, max_size=24))
def test_any_well_formed_forgery_is_refused(payload: bytes, mac: bytes) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    refused(f"WJE1.{b64(payload)}.{b64(mac)}")
