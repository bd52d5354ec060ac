"""identity.staff: accounts, grants, and sign-in with password plus a single-use TOTP code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import clock
from core.db import Database
from core.settings import get_keyring
from identity import staff, totp
from identity.errors import (
    InvalidCredentials,
    InvalidGrant,
    InvalidStaffDetails,
    StaffExists,
    StaffNotFound,
    WeakPassword,
)
from identity.models import Staff, StaffRole

NOW = datetime(2026, 3, 1, 8, 0, 10, tzinfo=UTC)
PASSWORD = "counter-wujiang-2026"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


def code(secret: str, at: datetime | None = None) -> str:
    return totp.code_at(secret, totp.step_at(at or clock.now()))


async def make_staff(session, username="li.wei", grants=(("awarder", "songling"),)):
    return await staff.create(
        session, username=username, display_name="李伟", password=PASSWORD, grants=list(grants)
    )


async def test_create_stores_hashed_password_and_encrypted_secret(session) -> None:
    created, secret = await make_staff(
        session, grants=[("awarder", "songling"), ("approver", "*"), ("awarder", "songling")]
    )

    row = await session.scalar(select(Staff).where(Staff.id == created.id))
    assert row.password_hash.startswith("$argon2")
    assert secret not in row.totp_secret_token
    assert get_keyring().decrypt(row.totp_secret_token, context=staff.TOTP_CONTEXT) == secret
    assert await staff.grants_of(session, created.id) == [
        ("approver", "*"),
        ("awarder", "songling"),
    ]


@pytest.mark.parametrize(
    ("username", "grants", "password", "error"),
    [
        ("Li.Wei", [], PASSWORD, InvalidStaffDetails),
        ("lw", [], PASSWORD, InvalidStaffDetails),
        ("li wei", [], PASSWORD, InvalidStaffDetails),
        ("li.wei", [("boss", "songling")], PASSWORD, InvalidStaffDetails),
        ("li.wei", [("awarder", "Song Ling")], PASSWORD, InvalidStaffDetails),
        ("li.wei", [("awarder", "")], PASSWORD, InvalidStaffDetails),
        ("li.wei", [], "short", WeakPassword),
    ],
)
async def test_create_validates(session, username, grants, password, error) -> None:
    with pytest.raises(error):
        await staff.create(
            session, username=username, display_name="李伟", password=password, grants=grants
        )


async def test_usernames_are_unique(session) -> None:
    await make_staff(session)
    with pytest.raises(StaffExists):
        await make_staff(session)


def test_parse_grant() -> None:
    assert staff.parse_grant("awarder:songling") == (StaffRole.AWARDER, "songling")
    assert staff.parse_grant("approver:*") == (StaffRole.APPROVER, "*")
    for bad in ["awarder", "awarder:", "cook:songling", "awarder:松陵"]:
        with pytest.raises(InvalidStaffDetails):
            staff.parse_grant(bad)


async def test_grant_and_revoke(session) -> None:
    created, _ = await make_staff(session)

    assert await staff.grant(session, username="li.wei", role="approver", community="pingwang")
    assert not await staff.grant(session, username="li.wei", role="approver", community="pingwang")
    assert await staff.revoke_grant(
        session, username="li.wei", role="awarder", community="songling"
    )
    assert not await staff.revoke_grant(
        session, username="li.wei", role="awarder", community="songling"
    )
    assert await staff.grants_of(session, created.id) == [("approver", "pingwang")]
    with pytest.raises(StaffNotFound):
        await staff.grant(session, username="nobody", role="approver", community="pingwang")


async def test_authenticate_with_password_and_code(session) -> None:
    created, secret = await make_staff(session)

    signed_in = await staff.authenticate(
        session, username="li.wei", password=PASSWORD, totp_code=code(secret)
    )

    assert signed_in.id == created.id
    assert signed_in.totp_last_step == totp.step_at(NOW)


async def test_every_wrong_part_gets_the_same_refusal(session) -> None:
    _, secret = await make_staff(session)
    attempts = [
        ("nobody", PASSWORD, code(secret)),
        ("NOT VALID!", PASSWORD, code(secret)),
        ("li.wei", "wrong-password-1", code(secret)),
        ("li.wei", PASSWORD, "000000" if code(secret) != "000000" else "111111"),
        ("li.wei", PASSWORD, code(secret, NOW - timedelta(minutes=2))),
    ]
    for username, password, totp_code in attempts:
        with pytest.raises(InvalidCredentials) as refused:
            await staff.authenticate(
                session, username=username, password=password, totp_code=totp_code
            )
        assert str(refused.value) == "The username, password or code is not correct."


async def test_a_code_signs_in_once(session) -> None:
    _, secret = await make_staff(session)
    first = code(secret)
    await staff.authenticate(session, username="li.wei", password=PASSWORD, totp_code=first)

    with pytest.raises(InvalidCredentials):
        await staff.authenticate(session, username="li.wei", password=PASSWORD, totp_code=first)
    clock.advance(timedelta(seconds=30))
    await staff.authenticate(session, username="li.wei", password=PASSWORD, totp_code=code(secret))


async def test_disabled_staff_are_refused(session, redis) -> None:
    created, secret = await make_staff(session)

    ended = await staff.disable(session, redis, username="li.wei")

    assert ended == 0
    with pytest.raises(InvalidCredentials):
        await staff.authenticate(
            session, username="li.wei", password=PASSWORD, totp_code=code(secret)
        )
    with pytest.raises(InvalidGrant):
        await staff.token_claims(session, staff_id=created.id)
    (listed,) = await staff.list_staff(session)
    assert listed.disabled_at is not None


async def test_token_claims_carry_current_grants(session) -> None:
    created, _ = await make_staff(session, grants=[("awarder", "songling"), ("approver", "*")])

    claims = await staff.token_claims(session, staff_id=created.id)

    assert claims == {
        "roles": [
            {"role": "approver", "community": "*"},
            {"role": "awarder", "community": "songling"},
        ]
    }


async def test_concurrent_sign_ins_with_the_same_code_one_wins(committed_db: Database) -> None:
    async with committed_db.unit_of_work() as s:
        _, secret = await make_staff(s)
    same_code = code(secret)

    async def attempt() -> bool:
        try:
            async with committed_db.unit_of_work() as s:
                await staff.authenticate(
                    s, username="li.wei", password=PASSWORD, totp_code=same_code
                )
        except InvalidCredentials:
            return False
        return True

    outcomes = await asyncio.gather(*(attempt() for _ in range(4)))

    assert sorted(outcomes) == [False, False, False, True]
