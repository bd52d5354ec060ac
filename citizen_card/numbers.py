"""Card numbers and chip UIDs as people and readers type them, made canonical.

- A Suzhou citizen card number is 16 to 19 digits; spaces and hyphens between groups are
  ignored. Canonical: the digits alone.
- A chip UID is what an ISO 14443 reader reports: 4, 7 or 10 bytes, written as 8, 14 or 20 hex
  characters in either case, perhaps grouped by spaces, colons or hyphens. Canonical: upper-case
  hex alone.

Only ASCII digits and letters count: full-width or other Unicode digits (`１２３４`) are refused,
not read as digits. Messages never echo the input.
"""

from __future__ import annotations

import re

from citizen_card.errors import InvalidCardNumber, InvalidChipUid

MAX_INPUT_LENGTH = 64  # anything longer is refused before it is looked at
NUMBER_MIN_DIGITS = 16
NUMBER_MAX_DIGITS = 19
CHIP_UID_BYTES = (4, 7, 10)

_CARD_NUMBER = re.compile(rf"[0-9]{{{NUMBER_MIN_DIGITS},{NUMBER_MAX_DIGITS}}}")
_CHIP_UID = re.compile("|".join(f"[0-9A-F]{{{2 * size}}}" for size in CHIP_UID_BYTES))
_LAST4 = re.compile(r"[0-9]{4}")
_NUMBER_SEPARATORS = re.compile(r"[ \-]")
_CHIP_SEPARATORS = re.compile(r"[ :\-]")
_ASCII_UPPER = str.maketrans("abcdef", "ABCDEF")


def card_number(text: str) -> str:
    """The canonical card number, or `InvalidCardNumber`."""
    compact = _NUMBER_SEPARATORS.sub("", text.strip()) if len(text) <= MAX_INPUT_LENGTH else ""
    if not _CARD_NUMBER.fullmatch(compact):
        raise InvalidCardNumber(
            f"A card number is {NUMBER_MIN_DIGITS} to {NUMBER_MAX_DIGITS} digits "
            "(spaces and hyphens between them are allowed)."
        )
    return compact


def chip_uid(text: str) -> str:
    """The canonical chip UID, or `InvalidChipUid`."""
    compact = _CHIP_SEPARATORS.sub("", text.strip()) if len(text) <= MAX_INPUT_LENGTH else ""
    # Only ASCII is upper-cased, so no Unicode letter can turn into hex on the way.
    canonical = compact.translate(_ASCII_UPPER)
    if not _CHIP_UID.fullmatch(canonical):
        raise InvalidChipUid("A chip UID is 4, 7 or 10 bytes written as 8, 14 or 20 hex digits.")
    return canonical


def is_last4(text: str) -> bool:
    """Whether `text` is four ASCII digits (what a hotline caller keys in)."""
    return bool(_LAST4.fullmatch(text))


def mask_number(number: str) -> str:
    """`3205****1234`: the issuer prefix and the last four digits of a canonical number; the
    middle is four stars whatever its length, so the mask does not tell the length either."""
    return number[:4] + "****" + number[-4:]
