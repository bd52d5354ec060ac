"""Field encryption, blind indexes, masking, their settings, and the log scrubber."""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from core.crypto import (
    BLIND_INDEX_LENGTH,
    DecryptionError,
    KeyRing,
    generate_key,
    mask_card_number,
    mask_id_number,
    mask_phone,
    parse_data_keys,
)
from core.errors import DomainError
from core.logging import scrub_personal_data
from core.settings import DEV_BLIND_INDEX_KEY, DEV_DATA_KEYS, Settings, get_keyring

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
BLIND_KEY = bytes(range(200, 232))
CONTEXT = "resident.id_number"
ID_NUMBER = "32058419900101123X"

RING = KeyRing([("k1", OLD_KEY)], blind_index_key=BLIND_KEY)
# What the ring looks like after a rotation: the new key first, the old one still listed.
ROTATED = KeyRing([("k2", NEW_KEY), ("k1", OLD_KEY)], blind_index_key=BLIND_KEY)
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=+/ "


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- encryption ------------------------------------------------------------------------------


@given(st.text())
def test_any_text_round_trips(plaintext: str) -> None:
    token = RING.encrypt(plaintext, context=CONTEXT)

    assert RING.decrypt(token, context=CONTEXT) == plaintext


def test_token_is_compact_and_self_describing() -> None:
    token = RING.encrypt(ID_NUMBER, context=CONTEXT)

    # 18 bytes of plaintext + 16 of tag = 34 bytes = 46 base64url characters
    assert re.fullmatch(r"v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{46}", token)
    assert ID_NUMBER not in token


def test_the_same_text_encrypts_differently_each_time() -> None:
    tokens = {RING.encrypt(ID_NUMBER, context=CONTEXT) for _ in range(20)}

    assert len(tokens) == 20
    assert len({token.split(".")[2] for token in tokens}) == 20  # fresh nonces


def test_a_token_moved_to_another_column_does_not_decrypt() -> None:
    token = RING.encrypt("13812345678", context="resident.phone")

    with pytest.raises(DecryptionError, match="failed authentication") as caught:
        RING.decrypt(token, context="staff.phone")
    assert "13812345678" not in str(caught.value)


@given(data=st.data())
def test_any_single_character_change_is_refused(data: st.DataObject) -> None:
    token = ROTATED.encrypt(ID_NUMBER, context=CONTEXT)
    position = data.draw(st.integers(0, len(token) - 1), label="position")
    replacement = data.draw(
        st.one_of(st.sampled_from(TOKEN_ALPHABET), st.characters()).filter(
            lambda char: char != token[position]
        ),
        label="replacement",
    )
    altered = token[:position] + replacement + token[position + 1 :]

    with pytest.raises(DecryptionError):
        ROTATED.decrypt(altered, context=CONTEXT)


def test_every_position_refuses_every_token_character() -> None:
    token = ROTATED.encrypt(ID_NUMBER, context=CONTEXT)

    for position, original in enumerate(token):
        for replacement in TOKEN_ALPHABET.replace(original, ""):
            altered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(DecryptionError):
                ROTATED.decrypt(altered, context=CONTEXT)


@given(data=st.data())
def test_truncated_or_extended_tokens_are_refused(data: st.DataObject) -> None:
    token = RING.encrypt(ID_NUMBER, context=CONTEXT)
    cut = data.draw(st.integers(0, len(token) - 1), label="cut")
    suffix = data.draw(st.text(min_size=1), label="suffix")

    with pytest.raises(DecryptionError):
        RING.decrypt(token[:cut], context=CONTEXT)
    with pytest.raises(DecryptionError):
        RING.decrypt(token + suffix, context=CONTEXT)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1.k1",
        "v1.k1..",
        "v2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "v1.k.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "v1.k1.AAAAAAAAAAAAAAAA.AAAA",  # shorter than a tag
        "v1.k1.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",  # nonce too short
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA==",  # padding is not part of the format
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA+/AAAA",  # standard, not url-safe, base64
        "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",  # well formed, but a forgery
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(DecryptionError):
        RING.decrypt(token, context=CONTEXT)


def test_a_token_under_an_unknown_key_is_refused_by_name() -> None:
    token = ROTATED.encrypt(ID_NUMBER, context=CONTEXT)

    with pytest.raises(DecryptionError, match="no data key with id 'k2'") as caught:
        RING.decrypt(token, context=CONTEXT)
    message = str(caught.value)
    assert ID_NUMBER not in message
    assert b64(NEW_KEY) not in message
    assert b64(OLD_KEY) not in message


def test_decryption_errors_are_internal_not_domain_errors() -> None:
    assert not issubclass(DecryptionError, DomainError)


def test_a_context_must_be_named_and_free_of_nul() -> None:
    for context in ("", "resident\0id_number"):
        with pytest.raises(ValueError, match="context"):
            RING.encrypt(ID_NUMBER, context=context)
        with pytest.raises(ValueError, match="context"):
            RING.blind_index(ID_NUMBER, context=context)


# --- rotation --------------------------------------------------------------------------------


def test_rotation_moves_tokens_to_the_new_key_and_old_ones_still_decrypt() -> None:
    old_token = RING.encrypt(ID_NUMBER, context=CONTEXT)
    assert not RING.needs_rotation(old_token)

    assert ROTATED.needs_rotation(old_token)
    assert ROTATED.decrypt(old_token, context=CONTEXT) == ID_NUMBER
    new_token = ROTATED.reencrypt(old_token, context=CONTEXT)

    assert new_token.split(".")[1] == "k2"
    assert not ROTATED.needs_rotation(new_token)
    assert ROTATED.decrypt(new_token, context=CONTEXT) == ID_NUMBER
    with pytest.raises(DecryptionError, match="'k2'"):
        RING.decrypt(new_token, context=CONTEXT)  # a ring without the new key


def test_reencrypt_refuses_the_wrong_context() -> None:
    token = RING.encrypt(ID_NUMBER, context=CONTEXT)

    with pytest.raises(DecryptionError):
        ROTATED.reencrypt(token, context="resident.phone")


def test_needs_rotation_refuses_malformed_tokens() -> None:
    with pytest.raises(DecryptionError):
        ROTATED.needs_rotation("not-a-token")


# --- blind index -----------------------------------------------------------------------------


def test_blind_index_is_deterministic_keyed_and_per_context() -> None:
    index = RING.blind_index(ID_NUMBER, context=CONTEXT)
    other_key = KeyRing([("k1", OLD_KEY)], blind_index_key=NEW_KEY[::-1])

    assert RING.blind_index(ID_NUMBER, context=CONTEXT) == index
    assert ROTATED.blind_index(ID_NUMBER, context=CONTEXT) == index  # data keys play no part
    assert RING.blind_index(ID_NUMBER, context="staff.id_number") != index
    assert other_key.blind_index(ID_NUMBER, context=CONTEXT) != index
    assert RING.blind_index("32058419900101123x", context=CONTEXT) != index  # callers normalise


@given(st.text(), st.text(min_size=1).filter(lambda text: "\0" not in text))
def test_blind_index_has_a_fixed_length_and_hides_the_value(value: str, context: str) -> None:
    index = RING.blind_index(value, context=context)

    assert re.fullmatch(f"[0-9a-f]{{{BLIND_INDEX_LENGTH}}}", index)


def test_blind_index_keeps_context_and_value_apart() -> None:
    # Without a separator, ("ab", "c") and ("a", "bc") would hash the same message.
    assert RING.blind_index("c", context="ab") != RING.blind_index("bc", context="a")


# --- the key ring and its text forms ---------------------------------------------------------


def test_key_ring_repr_shows_key_ids_only() -> None:
    text = repr(ROTATED)

    assert text == "KeyRing(current='k2', kids=['k2', 'k1'])"
    assert ROTATED.kids == ("k2", "k1")


@pytest.mark.parametrize(
    ("data_keys", "blind_index_key", "message"),
    [
        ([], BLIND_KEY, "at least one"),
        ([("k1", OLD_KEY[:16])], BLIND_KEY, "32 bytes"),
        ([("k1", OLD_KEY), ("k1", NEW_KEY)], BLIND_KEY, "more than once"),
        ([("k.1", OLD_KEY)], BLIND_KEY, "invalid key id"),
        ([("k1", OLD_KEY)], OLD_KEY, "must differ"),
        ([("k1", OLD_KEY)], BLIND_KEY[:16], "at least 32 bytes"),
    ],
)
def test_key_ring_refuses_bad_keys(
    data_keys: list[tuple[str, bytes]], blind_index_key: bytes, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        KeyRing(data_keys, blind_index_key=blind_index_key)


def test_data_keys_parse_with_or_without_padding_first_current() -> None:
    padded = base64.urlsafe_b64encode(NEW_KEY).decode()

    keys = parse_data_keys(f"k2:{padded}, k1:{b64(OLD_KEY)}")

    assert keys == [("k2", NEW_KEY), ("k1", OLD_KEY)]


def test_generated_keys_parse() -> None:
    ring = KeyRing.from_config(f"new:{generate_key()}", generate_key())

    assert ring.current_kid == "new"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "is empty"),
        (b64(OLD_KEY), "entry 1 is not kid:base64url-key"),
        (f"k1:{b64(OLD_KEY)},", "entry 2 is not kid:base64url-key"),
        (f"k.1:{b64(OLD_KEY)}", "entry 1 is not kid:base64url-key"),
        (f"k1:{b64(OLD_KEY)[:-1]}!", "key 'k1' is not valid base64url"),
        (f"k1:{b64(OLD_KEY[:16])}", r"key 'k1' must be 32 bytes \(AES-256\), not 16"),
        (f"k1:{b64(OLD_KEY)},k1:{b64(NEW_KEY)}", "'k1' appears more than once"),
    ],
)
def test_malformed_data_key_lists_are_refused_without_echoing_keys(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_data_keys(spec)
    assert b64(OLD_KEY)[:20] not in str(caught.value)


# --- settings --------------------------------------------------------------------------------

GOOD_KEYS = {
    "ledger_hash_key": "a-real-ledger-secret-of-some-length",
    "data_keys": f"k2:{b64(NEW_KEY)},k1:{b64(OLD_KEY)}",
    "blind_index_key": b64(BLIND_KEY),
}


SERVICES = {
    "sms_gateway_url": "https://sms.example/send",
    "verification_url": "https://verify.example/check",
}


def production(**overrides: str) -> Settings:
    values = {**SERVICES, **GOOD_KEYS, **overrides}
    return Settings(_env_file=None, env="production", **values)  # type: ignore[arg-type]


def test_settings_build_the_key_ring_once_current_key_first() -> None:
    settings = production()

    assert settings.keyring is settings.keyring
    assert settings.keyring.kids == ("k2", "k1")
    assert b64(NEW_KEY) not in repr(settings)
    assert b64(BLIND_KEY) not in repr(settings)


def test_the_test_session_has_its_own_key_ring() -> None:
    assert get_keyring().current_kid == "test1"


def test_development_defaults_work_in_development() -> None:
    settings = Settings(_env_file=None, env="development", data_keys=DEV_DATA_KEYS)  # type: ignore[arg-type]

    assert settings.keyring.current_kid == "dev"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_keys": DEV_DATA_KEYS}, "WUJIANG_DATA_KEYS still contains the development key"),
        # a development key relabelled or kept as an old key is refused just the same
        (
            {"data_keys": f"k2:{b64(NEW_KEY)},old:{DEV_DATA_KEYS.partition(':')[2]}"},
            "WUJIANG_DATA_KEYS still contains the development key",
        ),
        ({"blind_index_key": DEV_BLIND_INDEX_KEY}, "WUJIANG_BLIND_INDEX_KEY still has its dev"),
    ],
)
def test_default_keys_are_refused_in_production(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        production(**overrides)


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"data_keys": "k1"}, "WUJIANG_DATA_KEYS entry 1 is not kid:base64url-key"),
        ({"data_keys": f"k1:{b64(OLD_KEY[:24])}"}, "WUJIANG_DATA_KEYS key 'k1' must be 32 bytes"),
        ({"data_keys": ""}, "WUJIANG_DATA_KEYS is empty"),
        ({"blind_index_key": "not base64!"}, "WUJIANG_BLIND_INDEX_KEY is not valid base64url"),
        ({"blind_index_key": b64(BLIND_KEY[:16])}, "WUJIANG_BLIND_INDEX_KEY must be at least 32"),
        ({"blind_index_key": b64(OLD_KEY)}, "WUJIANG_BLIND_INDEX_KEY must differ"),
    ],
)
def test_malformed_keys_are_refused_in_every_environment(
    env: str, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        Settings(_env_file=None, **{**GOOD_KEYS, "env": env, **overrides})  # type: ignore[arg-type]
    assert b64(OLD_KEY) not in str(caught.value)


# --- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("32058419900101123X", "3205**********123X"),
        ("32058419900101123x", "3205**********123x"),
        (" 32058419900101123X\n", "3205**********123X"),
        ("320584900101123", "3205*******1123"),  # legacy 15-digit number
        ("", ""),
        ("123", "***"),
        ("E12345678", "*********"),  # too short to keep 8 characters of
        ("3205 8419 9001 0112 3X", "3205**********123X"),
        ("3205\n8419\x0090010112\u202e3X", "*" * 20),
        ("<script>alert(1)</script>", "*" * 23),  # parentheses count as separators
        ("9" * 1000, "*" * 32),
    ],
)
def test_mask_id_number(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+8613812345678", "+86 138****5678"),
        ("+86 138-1234-5678", "+86 138****5678"),
        ("008613812345678", "+86 138****5678"),
        ("8613812345678", "+86 138****5678"),
        ("0512-63451234", "051*****1234"),  # landline with area code
        ("63451234", "****1234"),
        ("+447911123456", "+447*****3456"),
        ("12345", "*****"),
        ("", ""),
        ("+86", "***"),
        ("138\n1234\x005678", "************"),
        ("１３８１２３４５６７８", "***********"),  # full-width digits are not echoed
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("6222021234567890", "************7890"),
        ("6222 0212 3456 7890 123", "***************0123"),
        ("A1234567", "****4567"),
        ("1234567", "*******"),
        ("", ""),
        ("6222'; DROP TABLE card; --", "*" * 20),  # spaces and hyphens are not counted
    ],
)
def test_mask_card_number(value: str, masked: str) -> None:
    assert mask_card_number(value) == masked


@given(st.text())
def test_masks_never_raise_and_never_echo_odd_characters(value: str) -> None:
    for mask in (mask_id_number, mask_phone, mask_card_number):
        masked = mask(value)

        assert re.fullmatch(r"[0-9A-Za-z*+ ]*", masked)
        assert not masked or "*" in masked
        assert len(masked) <= max(len(value) + 1, 32)


# --- logs ------------------------------------------------------------------------------------


def test_log_lines_never_carry_id_or_phone_numbers() -> None:
    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[scrub_personal_data, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )

    line = log.info("identity.verified", phone="13812345678", id_number=ID_NUMBER, resident_id=42)

    assert json.loads(line) == {
        "event": "identity.verified",
        "phone": "[redacted]",
        "id_number": "[redacted]",
        "resident_id": 42,
    }
    assert "13812345678" not in line
    assert ID_NUMBER not in line
