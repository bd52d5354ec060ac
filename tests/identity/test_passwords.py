"""Resident passwords: argon2 through passlib's API, strength rules, rehash when parameters rise."""

from __future__ import annotations

import pytest
from passlib.context import CryptContext
from sqlalchemy import select

from identity import passwords, residents
from identity.errors import InvalidCredentials, WeakPassword
from identity.models import Resident

PHONE = "13812345678"


@pytest.mark.parametrize("weak", ["short", "x" * 129, "aaaaaaaaaa", "1234567890", "abababab"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(WeakPassword):
        passwords.check_strength(weak)


def test_hashes_are_argon2_and_verify():
    stored = passwords.hash_password("green-wujiang-2026")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password("green-wujiang-2026", stored) == (True, None)
    assert passwords.verify_password("wrong-password", stored)[0] is False
    assert passwords.verify_password("anything", None) == (False, None)


async def test_a_hash_made_with_old_parameters_is_replaced_at_sign_in(session):
    resident, _ = await residents.find_or_create_by_phone(session, phone=PHONE)
    weaker = CryptContext(schemes=["argon2"], argon2__memory_cost=8192, argon2__rounds=1)
    resident.password_hash = weaker.hash("green-wujiang-2026")
    await session.flush()
    old = resident.password_hash

    await residents.check_password(session, phone=PHONE, password="green-wujiang-2026")

    stored = await session.scalar(select(Resident.password_hash).where(Resident.id == resident.id))
    assert stored != old
    assert "m=65536" in stored
    with pytest.raises(InvalidCredentials):
        await residents.check_password(session, phone=PHONE, password="not-it-at-all")
