"""Residents and cards for the citizen card tests, made through the services."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

import citizen_card
from citizen_card.schemas import CardOut
from identity import residents
from identity.models import Resident
from identity.verification import FormatOnlyVerifier
from tests.identity.factories import make_id_number

# Distinct, valid cards: 16-19 digits, and 4/7/10-byte chip UIDs, as people and readers write them.
NUMBERS = ["3205 0012 3456 7890", "3205-0098-7654-3217", "32050011223344556", "3205000000000000019"]
CHIP_UIDS = ["04a2b3c4d5e680", "A1B2C3D4", "04:11:22:33:44:55:66:77:88:99", "0455AA66BB77CC"]
BIRTH_DIGITS = "900517"  # make_id_number's default birthday, 1990-05-17, as YYMMDD
GOOD_PIN = "385917"
OTHER_GOOD_PIN = "604182"


def plain(number: str) -> str:
    return number.replace(" ", "").replace("-", "")


async def make_resident(
    session: AsyncSession, *, phone: str = "13812345678", verified: bool = True, sequence: int = 1
) -> Resident:
    """A resident at L1, or at L2 (`real_name`, the format-only verifier) when `verified`."""
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    if verified:
        await residents.verify_real_name(
            session,
            FormatOnlyVerifier(),
            resident_id=resident.id,
            name="张三",
            id_number=make_id_number(sequence=sequence),
        )
    return resident


async def issue_card(session: AsyncSession, resident: Resident, which: int = 0) -> CardOut:
    """Card `which` of NUMBERS/CHIP_UIDS issued to the resident at the counter."""
    return await citizen_card.issue(
        session,
        resident_id=resident.id,
        number=NUMBERS[which],
        chip_uid=CHIP_UIDS[which],
        actor="staff:test-clerk",
        channel="counter",
    )
