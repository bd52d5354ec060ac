"""Residents: found by phone, verified by real name, signed in by password. Personal data is
encrypted at rest (core.crypto) and found through keyed blind indexes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.crypto import mask_id_number, mask_phone
from core.db import upsert
from core.ids import new_id
from core.settings import get_keyring
from identity import passwords
from identity.errors import (
    IdNumberTaken,
    InvalidCredentials,
    InvalidPhone,
    RealNameMismatch,
    ResidentNotFound,
)
from identity.id_number import parse_id_number
from identity.models import Assurance, Resident, assurance_rank
from identity.otp import Language
from identity.phone import normalise_phone
from identity.schemas import RealNameResult, ResidentProfile
from identity.verification import RealNameVerifier

PHONE = "resident.phone"
NAME = "resident.name"
ID_NUMBER = "resident.id_number"
resident_t = Resident.metadata.tables["identity_resident"]


def phone_key(phone: str) -> str:
    """The blind index of a phone number: safe to use as a Redis key or rate-limit bucket."""
    return get_keyring().blind_index(normalise_phone(phone), context=PHONE)


async def find_or_create_by_phone(session: AsyncSession, *, phone: str) -> tuple[Resident, bool]:
    """The resident with this mobile number, created at assurance `phone` if new."""
    canonical = normalise_phone(phone)
    keyring = get_keyring()
    index = keyring.blind_index(canonical, context=PHONE)
    now = clock.now()
    row = {
        "id": new_id(),
        "phone_token": keyring.encrypt(canonical, context=PHONE),
        "phone_index": index,
        "assurance": Assurance.PHONE.value,
        "language": "zh",
        "created_at": now,
        "updated_at": now,
    }
    # Two sign-ups racing with the same number: one row wins, both get it.
    await session.execute(upsert(session, resident_t).on_conflict_do_nothing(), [row])
    resident = await _by_phone_index(session, index)
    assert resident is not None
    return resident, resident.id == row["id"]


async def get(session: AsyncSession, *, resident_id: uuid.UUID) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise ResidentNotFound("No such resident.")
    return resident


async def profile(session: AsyncSession, *, resident_id: uuid.UUID) -> ResidentProfile:
    """The resident's own profile, personal data masked."""
    return to_profile(await get(session, resident_id=resident_id))


def to_profile(resident: Resident) -> ResidentProfile:
    keyring = get_keyring()
    name = keyring.decrypt(resident.name_token, context=NAME) if resident.name_token else None
    id_number = (
        keyring.decrypt(resident.id_number_token, context=ID_NUMBER)
        if resident.id_number_token
        else None
    )
    return ResidentProfile(
        id=resident.id,
        phone=mask_phone(keyring.decrypt(resident.phone_token, context=PHONE)),
        name=mask_name(name) if name else None,
        id_number=mask_id_number(id_number) if id_number else None,
        assurance=resident.assurance,
        language=resident.language,
        has_password=resident.password_hash is not None,
        real_name_verified_at=resident.real_name_verified_at,
        created_at=resident.created_at,
    )


def mask_name(name: str) -> str:
    """Family name kept, the rest starred: 张三丰 → 张**."""
    return name[:1] + "*" * max(len(name) - 1, 1)


async def verify_real_name(
    session: AsyncSession,
    verifier: RealNameVerifier,
    *,
    resident_id: uuid.UUID,
    name: str,
    id_number: str,
) -> RealNameResult:
    """Bind a verified name and ID number to the resident and raise assurance to `real_name`."""
    resident = await get(session, resident_id=resident_id)
    parsed = parse_id_number(id_number)
    name = _clean_name(name)
    keyring = get_keyring()
    index = keyring.blind_index(parsed.value, context=ID_NUMBER)
    await _check_id_number_free(session, index, resident.id)
    verdict = await verifier.check(name=name, id_number=parsed)
    if not verdict.matched:
        raise RealNameMismatch("The name and ID number do not match the national record.")
    values: dict[str, Any] = {
        "name_token": keyring.encrypt(name, context=NAME),
        "id_number_token": keyring.encrypt(parsed.value, context=ID_NUMBER),
        "id_number_index": index,
        "assurance": _raise_to(resident.assurance, Assurance.REAL_NAME),
        "real_name_verified_at": clock.now(),
        "updated_at": clock.now(),
    }
    await session.execute(update(resident_t).where(resident_t.c.id == resident.id).values(values))
    await session.refresh(resident)
    return RealNameResult(profile=to_profile(resident), method=verdict.method)


async def _check_id_number_free(session: AsyncSession, index: str, resident_id: uuid.UUID) -> None:
    """One ID number belongs to one resident."""
    holder = await session.scalar(
        select(resident_t.c.id).where(resident_t.c.id_number_index == index)
    )
    if holder is not None and holder != resident_id:
        raise IdNumberTaken("This ID number is already verified on another account.")


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 50 or any(ch.isdigit() for ch in name):
        raise RealNameMismatch("Enter the name exactly as on the ID card.")
    return name


def _raise_to(current: str, level: Assurance) -> str:
    return max(Assurance(current), level, key=assurance_rank).value


async def set_password(session: AsyncSession, *, resident_id: uuid.UUID, password: str) -> None:
    """Set or change the resident's optional password."""
    passwords.check_strength(password)
    await session.execute(
        update(resident_t)
        .where(resident_t.c.id == resident_id)
        .values(password_hash=passwords.hash_password(password), updated_at=clock.now())
    )


async def check_password(session: AsyncSession, *, phone: str, password: str) -> Resident:
    """The resident if the password is right; one refusal for every kind of wrong."""
    try:
        index = phone_key(phone)
    except InvalidPhone as exc:
        raise InvalidCredentials("The mobile number or password is not correct.") from exc
    resident = await _by_phone_index(session, index)
    ok, new_hash = passwords.verify_password(password, resident.password_hash if resident else None)
    if resident is None or not ok:
        raise InvalidCredentials("The mobile number or password is not correct.")
    if new_hash:  # parameters were raised since this hash was made
        await session.execute(
            update(resident_t).where(resident_t.c.id == resident.id).values(password_hash=new_hash)
        )
    return resident


async def _by_phone_index(session: AsyncSession, index: str) -> Resident | None:
    result = await session.execute(select(Resident).where(resident_t.c.phone_index == index))
    return result.scalar_one_or_none()


async def find_for_counter(
    session: AsyncSession, *, phone: str | None = None, id_number: str | None = None
) -> ResidentProfile:
    """A counter clerk looks a resident up by phone or ID number; they see the masked profile."""
    keyring = get_keyring()
    if phone:
        resident = await _by_phone_index(session, phone_key(phone))
    elif id_number:
        index = keyring.blind_index(parse_id_number(id_number).value, context=ID_NUMBER)
        found = await session.execute(select(Resident).where(resident_t.c.id_number_index == index))
        resident = found.scalar_one_or_none()
    else:
        raise ResidentNotFound("Give a phone number or an ID number.")
    if resident is None:
        raise ResidentNotFound("No resident has this phone or ID number.")
    return to_profile(resident)


async def verify_in_person(
    session: AsyncSession, *, resident_id: uuid.UUID, name: str, id_number: str
) -> ResidentProfile:
    """A counter clerk saw the resident's ID card: bind (or confirm) name and number, L3."""
    resident = await get(session, resident_id=resident_id)
    parsed = parse_id_number(id_number)
    name = _clean_name(name)
    keyring = get_keyring()
    index = keyring.blind_index(parsed.value, context=ID_NUMBER)
    if resident.id_number_index is not None and resident.id_number_index != index:
        raise RealNameMismatch("The card does not match the identity already on this account.")
    await _check_id_number_free(session, index, resident.id)
    now = clock.now()
    await session.execute(
        update(resident_t)
        .where(resident_t.c.id == resident.id)
        .values(
            name_token=keyring.encrypt(name, context=NAME),
            id_number_token=keyring.encrypt(parsed.value, context=ID_NUMBER),
            id_number_index=index,
            assurance=Assurance.IN_PERSON.value,
            real_name_verified_at=resident.real_name_verified_at or now,
            updated_at=now,
        )
    )
    await session.refresh(resident)
    return to_profile(resident)


async def set_language(
    session: AsyncSession, *, resident_id: uuid.UUID, language: Language
) -> ResidentProfile:
    """The language of the resident's texts and notices (`zh` or `en`)."""
    resident = await get(session, resident_id=resident_id)
    await session.execute(
        update(resident_t)
        .where(resident_t.c.id == resident.id)
        .values(language=language, updated_at=clock.now())
    )
    await session.refresh(resident)
    return to_profile(resident)
