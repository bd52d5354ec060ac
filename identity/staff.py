"""Staff accounts: community workers, cashiers, clerks and operators.

Created by an operator (`wujiang staff add`), never by sign-up. Each holds roles (StaffRole) in
communities (社区, lower-case codes such as `songling`), or district-wide with `*`. Roles do not
imply one another: `admin` manages staff accounts and nothing else, so an operator who should also
award points is granted `awarder` as well, and every grant is visible in `wujiang staff list`.

Sign-in is a password plus a TOTP code (identity.totp). The TOTP secret is stored encrypted
(core.crypto, context `staff.totp_secret`); the last accepted time step is stored with the
account, and moved forward by a conditional UPDATE, so a code works once even when two sign-ins
present it at the same moment.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from core import clock
from core.ids import new_id
from core.settings import get_keyring
from identity import passwords, totp
from identity.errors import (
    InvalidCredentials,
    InvalidGrant,
    InvalidStaffDetails,
    StaffExists,
    StaffNotFound,
)
from identity.models import Staff, StaffGrant, StaffRole

TOTP_CONTEXT = "staff.totp_secret"  # core.crypto context of Staff.totp_secret_token
EVERYWHERE = "*"
_USERNAME = re.compile(r"[a-z0-9._-]{3,64}")
_COMMUNITY = re.compile(r"[a-z0-9-]{1,64}")
_SIGN_IN_REFUSED = "The username, password or code is not correct."

staff_t = Staff.metadata.tables["identity_staff"]
grant_t = StaffGrant.metadata.tables["identity_staff_grant"]

Grant = tuple[StaffRole, str]


@dataclass(frozen=True)
class StaffSummary:
    """What `wujiang staff list` shows: never a password hash or TOTP secret."""

    id: uuid.UUID
    username: str
    display_name: str
    grants: list[tuple[str, str]]
    created_at: datetime
    disabled_at: datetime | None


# --- validation ------------------------------------------------------------------------------


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidStaffDetails("A username is 3-64 of a-z, 0-9, '.', '_' and '-'.")
    return username


def check_grant(role: str, community: str) -> Grant:
    """A (role, community) pair, validated: a StaffRole value and a community code or `*`."""
    try:
        valid_role = StaffRole(role)
    except ValueError:
        roles = ", ".join(r.value for r in StaffRole)
        raise InvalidStaffDetails(f"Unknown role {role!r}; roles are {roles}.") from None
    if community != EVERYWHERE and not _COMMUNITY.fullmatch(community):
        raise InvalidStaffDetails("A community code is 1-64 of a-z, 0-9 and '-', or '*'.")
    return valid_role, community


def parse_grant(text: str) -> Grant:
    """`role:community`, as operators type it (`awarder:songling`, `approver:*`)."""
    role, colon, community = text.partition(":")
    if not colon:
        raise InvalidStaffDetails("Write a grant as ROLE:COMMUNITY, e.g. awarder:songling.")
    return check_grant(role.strip(), community.strip())


# --- accounts --------------------------------------------------------------------------------


async def create(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    password: str,
    grants: Iterable[tuple[str, str]],
) -> tuple[Staff, str]:
    """A new staff account and its TOTP secret, which the caller shows once and never again."""
    username = check_username(username)
    display_name = " ".join(display_name.split())
    if not 1 <= len(display_name) <= 100:
        raise InvalidStaffDetails("A display name is 1-100 characters.")
    checked = {check_grant(role, community) for role, community in grants}
    passwords.check_strength(password)
    if await _by_username(session, username) is not None:
        raise StaffExists(f"The username {username!r} is taken.")
    secret = totp.new_secret()
    staff = Staff(
        id=new_id(),
        username=username,
        display_name=display_name,
        password_hash=passwords.hash_password(password),
        totp_secret_token=get_keyring().encrypt(secret, context=TOTP_CONTEXT),
        totp_last_step=0,
        created_at=clock.now(),
    )
    session.add(staff)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same username created concurrently
        raise StaffExists(f"The username {username!r} is taken.") from exc
    for role, community in sorted(checked):
        await _add_grant(session, staff.id, role, community)
    return staff, secret


async def grant(session: AsyncSession, *, username: str, role: str, community: str) -> bool:
    """Give the staff member `role` in `community`; False if they already had it."""
    staff = await get(session, username=username)
    valid_role, community = check_grant(role, community)
    if (valid_role.value, community) in await grants_of(session, staff.id):
        return False
    await _add_grant(session, staff.id, valid_role, community)
    return True


async def revoke_grant(session: AsyncSession, *, username: str, role: str, community: str) -> bool:
    """Take `role` in `community` away; False if the staff member did not have it. Access tokens
    already issued keep it until they expire (minutes); the next refresh drops it."""
    staff = await get(session, username=username)
    valid_role, community = check_grant(role, community)
    result = await session.execute(
        delete(grant_t)
        .where(
            grant_t.c.staff_id == staff.id,
            grant_t.c.role == valid_role.value,
            grant_t.c.community == community,
        )
        .returning(grant_t.c.id)
    )
    return result.first() is not None


async def disable(session: AsyncSession, redis: Redis, *, username: str) -> int:
    """Disable the account and end its sessions (their access tokens stop at once); how many
    sessions were ended. A disabled account cannot sign in or refresh."""
    from identity import sessions  # deferred: identity.sessions asks this module for claims

    staff = await get(session, username=username)
    if staff.disabled_at is None:
        staff.disabled_at = clock.now()
        await session.flush()
    return await sessions.revoke_all(session, redis, subject=str(staff.id))


async def get(session: AsyncSession, *, username: str) -> Staff:
    staff = await _by_username(session, username)
    if staff is None:
        raise StaffNotFound(f"No staff member is called {username!r}.")
    return staff


async def summary(session: AsyncSession, *, staff_id: uuid.UUID) -> StaffSummary:
    """One staff account with its current grants."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise StaffNotFound("No such staff member.")
    return await _summary(session, staff)


async def list_staff(session: AsyncSession) -> list[StaffSummary]:
    """Every staff account with its grants, by username."""
    accounts = (await session.scalars(select(Staff).order_by(staff_t.c.username))).all()
    return [await _summary(session, staff) for staff in accounts]


async def _summary(session: AsyncSession, staff: Staff) -> StaffSummary:
    return StaffSummary(
        id=staff.id,
        username=staff.username,
        display_name=staff.display_name,
        grants=await grants_of(session, staff.id),
        created_at=staff.created_at,
        disabled_at=staff.disabled_at,
    )


async def grants_of(session: AsyncSession, staff_id: uuid.UUID) -> list[tuple[str, str]]:
    """The staff member's (role, community) pairs, sorted."""
    rows = await session.execute(
        select(grant_t.c.role, grant_t.c.community)
        .where(grant_t.c.staff_id == staff_id)
        .order_by(grant_t.c.role, grant_t.c.community)
    )
    return [(role, community) for role, community in rows]


# --- sign-in ---------------------------------------------------------------------------------


async def authenticate(
    session: AsyncSession, *, username: str, password: str, totp_code: str
) -> Staff:
    """The staff member if username, password and TOTP code are all right and the account is
    enabled; one InvalidCredentials for every kind of wrong. The code's step is recorded in this
    transaction: the same code never signs in twice."""
    staff = await _by_username(session, username) if _USERNAME.fullmatch(username) else None
    # An unknown username costs the same argon2 verification as a known one.
    ok, new_hash = passwords.verify_password(password, staff.password_hash if staff else None)
    if staff is None or not ok or staff.disabled_at is not None:
        raise InvalidCredentials(_SIGN_IN_REFUSED)
    secret = get_keyring().decrypt(staff.totp_secret_token, context=TOTP_CONTEXT)
    step = totp.verify(secret, totp_code, at=clock.now(), last_step=staff.totp_last_step)
    if step is None:
        raise InvalidCredentials(_SIGN_IN_REFUSED)
    # Conditional: of two sign-ins racing with the same code, the second finds the step taken
    # (PostgreSQL re-reads the row after the first commits; SQLite serialises the writers).
    claimed = await session.execute(
        update(staff_t)
        .where(staff_t.c.id == staff.id, staff_t.c.totp_last_step < step)
        .values(totp_last_step=step, **({"password_hash": new_hash} if new_hash else {}))
        .returning(staff_t.c.id)
    )
    if claimed.first() is None:
        raise InvalidCredentials(_SIGN_IN_REFUSED)
    set_committed_value(staff, "totp_last_step", step)
    return staff


async def token_claims(session: AsyncSession, *, staff_id: uuid.UUID) -> dict[str, Any]:
    """The extra access-token claims of a staff session, read afresh at every issue (sign-in and
    refresh), so a revoked grant leaves the tokens at the next refresh. A disabled account gets
    no more tokens."""
    staff = await session.get(Staff, staff_id, populate_existing=True)
    if staff is None or staff.disabled_at is not None:
        raise InvalidGrant("The staff account is disabled; sign in is not possible.")
    return {
        "roles": [
            {"role": role, "community": community}
            for role, community in await grants_of(session, staff_id)
        ]
    }


async def _add_grant(
    session: AsyncSession, staff_id: uuid.UUID, role: StaffRole, community: str
) -> None:
    await session.execute(
        grant_t.insert().values(
            id=new_id(),
            staff_id=staff_id,
            role=role.value,
            community=community,
            granted_at=clock.now(),
        )
    )


async def _by_username(session: AsyncSession, username: str) -> Staff | None:
    # populate_existing: the row as it is now, not as this session first loaded it.
    result = await session.execute(
        select(Staff)
        .where(staff_t.c.username == username)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()
