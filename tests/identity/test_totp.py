"""identity.totp against RFC 6238 Appendix B, plus the drift window and replay refusal."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from identity import totp

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]
NOW = datetime(2026, 3, 1, 8, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc_6238_sha1_vectors(unix_time: int, expected: str) -> None:
    at = datetime.fromtimestamp(unix_time, UTC)

    assert totp.code_at(RFC_SECRET, totp.step_at(at), digits=8) == expected
    assert totp.verify(RFC_SECRET, expected, at=at, last_step=0, digits=8) == totp.step_at(at)


def test_six_digit_codes_are_the_last_six_of_the_eight() -> None:
    at = datetime.fromtimestamp(59, UTC)
    assert totp.code_at(RFC_SECRET, totp.step_at(at)) == "287082"


def test_new_secrets_are_20_random_bytes_in_base32() -> None:
    first, second = totp.new_secret(), totp.new_secret()

    assert len(base64.b32decode(first)) == 20
    assert len(first) == 32
    assert "=" not in first
    assert first != second


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-60, False), (-30, True), (0, True), (30, True), (60, False)]
)
def test_one_step_of_clock_drift_either_way(offset: int, accepted: bool) -> None:
    secret = totp.new_secret()
    code = totp.code_at(secret, totp.step_at(NOW + timedelta(seconds=offset)))

    step = totp.verify(secret, code, at=NOW, last_step=0)

    assert (step is not None) is accepted


def test_a_code_works_once_and_earlier_steps_never_again() -> None:
    secret = totp.new_secret()
    now_step = totp.step_at(NOW)
    code = totp.code_at(secret, now_step)
    earlier = totp.code_at(secret, now_step - 1)

    used = totp.verify(secret, code, at=NOW, last_step=0)

    assert used == now_step
    assert totp.verify(secret, code, at=NOW, last_step=used) is None
    assert totp.verify(secret, earlier, at=NOW, last_step=used) is None
    later = totp.code_at(secret, now_step + 1)
    assert (
        totp.verify(secret, later, at=NOW + timedelta(seconds=30), last_step=used) == now_step + 1
    )


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5x"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert totp.verify(totp.new_secret(), code, at=NOW, last_step=0) is None


def test_provisioning_uri_is_percent_encoded() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "li.wei")
    parts = urlsplit(uri)
    query = parse_qs(parts.query)

    assert uri.isascii()
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/智慧吴江:li.wei"
    assert query == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["智慧吴江"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
