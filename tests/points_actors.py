"""Residents and staff members with real access tokens, made through the identity services
(quicker than the SMS and TOTP sign-in flows, which have tests of their own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import APP_SCOPE
from api.principal import STAFF_SCOPE
from identity import residents, sessions, staff
from identity.clients import APP_CLIENT_ID, STAFF_CLIENT_ID
from identity.tokens import STAFF_ACR


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def make_resident(session: AsyncSession, phone: str = "13812345678") -> Actor:
    """A resident signed in to the app (assurance L1)."""
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    tokens = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id=APP_CLIENT_ID,
        channel="app",
        assurance=resident.assurance,
        scope=APP_SCOPE,
    )
    return Actor(resident.id, tokens.access_token)


async def make_staff(session: AsyncSession, username: str, grants: list[tuple[str, str]]) -> Actor:
    """A staff member holding `grants` [(role, community)], signed in."""
    member, _ = await staff.create(
        session,
        username=username,
        display_name=username,
        password="a-long-staff-password-2026",
        grants=grants,
    )
    tokens = await sessions.start(
        session,
        subject_type="staff",
        subject=str(member.id),
        client_id=STAFF_CLIENT_ID,
        channel="staff",
        assurance=STAFF_ACR,
        scope=STAFF_SCOPE,
    )
    return Actor(member.id, tokens.access_token)
