"""Mainland China mobile numbers: one canonical form for storage, lookup and SMS."""

from __future__ import annotations

import re

from identity.errors import InvalidPhone

# 11 digits starting 13-19: every mobile range the three carriers (and virtual operators) use.
_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalise_phone(raw: str) -> str:
    """The 11-digit form of a mainland mobile number; +86 / 0086 / 86 prefixes are dropped."""
    if not isinstance(raw, str) or len(raw) > 32:
        raise InvalidPhone("Enter an 11-digit mainland China mobile number.")
    digits = _SEPARATORS.sub("", raw)
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
            break
    if not (digits.isascii() and _MOBILE.fullmatch(digits)):
        raise InvalidPhone("Enter an 11-digit mainland China mobile number.")
    return digits
