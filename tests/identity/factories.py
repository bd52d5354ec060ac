"""Resident ID numbers for tests: valid by construction, with the parts a test cares about."""

from __future__ import annotations

from datetime import date

from identity import check_character

WUJIANG = "320584"  # Wujiang District, Suzhou


def make_id_number(
    region: str = WUJIANG, birth: date = date(1990, 5, 17), sequence: int = 1
) -> str:
    """A valid 18-character ID number; the sequence's last digit is odd for men, even for women."""
    if not 0 <= sequence <= 999:
        raise ValueError("the sequence has three digits")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
