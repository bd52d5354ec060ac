"""Resident ID numbers (公民身份号码, GB 11643-1999): parsing and validation.

Eighteen characters: the 6-digit administrative division code (GB/T 2260) of the place the number
was first issued, the date of birth as YYYYMMDD, a 3-digit sequence whose last digit is odd for men
and even for women, and an ISO 7064 MOD 11-2 check character (a digit or `X`).

The region check is deliberately shallow: the province-level prefix must be real, nothing more. A
full table of county codes would go stale (divisions are renamed and merged every year while old
numbers stay valid), and the external verification service is the authority on whether a number
was actually issued.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from core import clock
from identity.errors import InvalidIdNumber

Sex = Literal["male", "female"]

LENGTH = 18
LEGACY_LENGTH = 15
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# "Today" for a birth date is the calendar day in China, not in UTC: someone born just after
# midnight Beijing time must be accepted before UTC reaches that date.
CHINA_TIME = ZoneInfo("Asia/Shanghai")

# Province-level prefixes of GB/T 2260 on the mainland; their numbers are issued by prefecture and
# county, so digits 3-4 ("00" is the province itself) must name a prefecture.
MAINLAND_PROVINCES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23"}
    | {"31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65"}
)
# Codes without subdivisions, accepted only as the whole "XX0000". 71 (Taiwan), 81 (Hong Kong) and
# 82 (Macao) are in GB/T 2260; 830000 is not a division but is what residence permits for Taiwan
# residents carry, as 810000 and 820000 do for Hong Kong and Macao residents (State Council
# measures of 2018). Permit holders live and work in Wujiang and may register, so all are accepted.
UNDIVIDED_REGIONS = frozenset({"710000", "810000", "820000", "830000"})

_DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() would let full-width digits in
_LAST_CHARACTERS = _DIGITS | {"X", "x"}
# ISO 7064 MOD 11-2: the weight of a character is 2^k mod 11, k counting from the right with the
# check character at k = 0; the check character makes the weighted sum 1 mod 11.
_WEIGHTS = tuple(pow(2, LENGTH - 1 - i, 11) for i in range(LENGTH - 1))
_CHECK_CHARACTERS = "10X98765432"  # indexed by the weighted sum of the first 17 digits mod 11

_CHARACTERS_MESSAGE = (
    "A resident ID number is 17 digits followed by a digit or the letter X; other characters "
    "(including full-width digits) are not accepted."
)


@dataclass(frozen=True, slots=True, repr=False)
class IdNumber:
    """A valid resident ID number; build it with `parse_id_number`, read the number from `value`.

    `repr()` and `str()` are masked so the number cannot leak into logs, tracebacks or test
    output; code that needs the number asks for `value` explicitly.
    """

    value: str  # canonical: 18 characters, upper-case X
    region_code: str
    birth_date: date
    sex: Sex

    def __repr__(self) -> str:
        return f"IdNumber({self._redacted()!r})"

    def __str__(self) -> str:
        return self._redacted()

    def _redacted(self) -> str:
        return self.value[0] + "*" * (LENGTH - 2) + self.value[-1]


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Validate an 18-character resident ID number; refuse with `InvalidIdNumber` and its rule.

    Surrounding whitespace is ignored and a lower-case `x` accepted. `today` (default: the current
    date in China, from `core.clock`) bounds the date of birth.
    """
    if not isinstance(raw, str):  # the API gives us str; anything else is still only a refusal
        raise InvalidIdNumber(_CHARACTERS_MESSAGE, reason="characters")
    value = raw.strip()
    _check_shape(value)
    value = value[:-1] + value[-1].upper()
    region_code = value[:6]
    _check_region(region_code)
    birth_date = _birth_date(value[6:14], today=today if today is not None else _today_in_china())
    if check_character(value[:-1]) != value[-1]:
        raise InvalidIdNumber(
            "The check character does not match the other digits; please look for a typing "
            "mistake.",
            reason="check-character",
        )
    sex: Sex = "male" if int(value[16]) % 2 else "female"
    return IdNumber(value=value, region_code=region_code, birth_date=birth_date, sex=sex)


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character (`0`-`9` or `X`) for the first 17 digits."""
    if len(first17) != LENGTH - 1 or not _DIGITS.issuperset(first17):
        raise ValueError("check_character needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def _check_shape(value: str) -> None:
    if len(value) == LEGACY_LENGTH and _DIGITS.issuperset(value):
        raise InvalidIdNumber(
            "15-digit ID numbers from first-generation cards are no longer accepted; please enter "
            "the 18-digit number printed on your current resident identity card.",
            reason="legacy-15-digit",
        )
    if len(value) != LENGTH:
        raise InvalidIdNumber(
            f"A resident ID number has exactly {LENGTH} characters; this one has {len(value)}.",
            reason="length",
        )
    if not _DIGITS.issuperset(value[:-1]) or value[-1] not in _LAST_CHARACTERS:
        raise InvalidIdNumber(_CHARACTERS_MESSAGE, reason="characters")


def _check_region(region_code: str) -> None:
    province, prefecture = region_code[:2], region_code[2:4]
    if region_code in UNDIVIDED_REGIONS:
        return
    if province not in MAINLAND_PROVINCES or prefecture == "00":
        raise InvalidIdNumber(
            "The first six digits are not a valid administrative division code.",
            reason="region",
        )


def _birth_date(yyyymmdd: str, *, today: date) -> date:
    year, month, day = int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:])
    # Checked by hand rather than by catching date()'s ValueError, so no exception chain carries
    # the digits along.
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise InvalidIdNumber(
            "Digits 7 to 14 must be the date of birth as YYYYMMDD, and are not a real date.",
            reason="birth-date",
        )
    born = date(year, month, day)
    if born > today:
        raise InvalidIdNumber(
            "The date of birth (digits 7 to 14) is in the future.", reason="birth-date"
        )
    if born < EARLIEST_BIRTH_DATE:
        raise InvalidIdNumber(
            "The date of birth (digits 7 to 14) is before 1900.", reason="birth-date"
        )
    return born


def _today_in_china() -> date:
    return clock.now().astimezone(CHINA_TIME).date()
