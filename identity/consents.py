"""Consents: which claims a resident allowed each partner to receive. Remembered per partner, so
the consent page is shown once; withdrawn from the app, which also ends the partner's sessions."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import upsert
from core.ids import new_id
from identity import sessions
from identity.errors import ConsentNotFound
from identity.models import AuthSession, Client, Consent
from identity.schemas import ConsentOut

consent_t = Consent.metadata.tables["identity_consent"]
client_t = Client.metadata.tables["identity_client"]
session_t = AuthSession.metadata.tables["identity_session"]


async def current(
    session: AsyncSession, *, resident_id: uuid.UUID, client_id: str
) -> frozenset[str] | None:
    """The scopes of the resident's active consent to `client_id`; None if none or withdrawn."""
    scopes = await session.scalar(
        select(consent_t.c.scopes).where(
            consent_t.c.resident_id == resident_id,
            consent_t.c.client_id == client_id,
            consent_t.c.withdrawn_at.is_(None),
        )
    )
    return None if scopes is None else frozenset(scopes.split())


async def grant(
    session: AsyncSession, *, resident_id: uuid.UUID, client_id: str, scopes: frozenset[str]
) -> None:
    """Record consent to exactly `scopes`; re-granting after a withdrawal re-activates it."""
    now = clock.now()
    values = {"scopes": " ".join(sorted(scopes)), "granted_at": now, "withdrawn_at": None}
    statement = upsert(session, consent_t).values(
        id=new_id(), resident_id=resident_id, client_id=client_id, **values
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[consent_t.c.resident_id, consent_t.c.client_id], set_=values
        )
    )


async def list_for(session: AsyncSession, *, resident_id: uuid.UUID) -> list[ConsentOut]:
    """The resident's active consents, most recent first."""
    rows = await session.execute(
        select(consent_t.c.client_id, client_t.c.name, consent_t.c.scopes, consent_t.c.granted_at)
        .join(client_t, client_t.c.client_id == consent_t.c.client_id)
        .where(consent_t.c.resident_id == resident_id, consent_t.c.withdrawn_at.is_(None))
        .order_by(consent_t.c.granted_at.desc())
    )
    return [
        ConsentOut(
            client_id=row.client_id,
            client_name=row.name,
            scopes=sorted(row.scopes.split()),
            granted_at=row.granted_at,
        )
        for row in rows
    ]


async def withdraw(
    session: AsyncSession, redis: Redis, *, resident_id: uuid.UUID, client_id: str
) -> None:
    """Withdraw consent and end the resident's sessions with that partner: its tokens stop now."""
    result = await session.execute(
        update(consent_t)
        .where(
            consent_t.c.resident_id == resident_id,
            consent_t.c.client_id == client_id,
            consent_t.c.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=clock.now())
        .returning(consent_t.c.id)
    )
    if result.first() is None:
        raise ConsentNotFound("No active consent for this partner.")
    live = await session.scalars(
        select(session_t.c.id).where(
            session_t.c.subject == str(resident_id),
            session_t.c.subject_type == "resident",
            session_t.c.client_id == client_id,
            session_t.c.revoked_at.is_(None),
        )
    )
    for session_id in list(live):
        await sessions.revoke(session, redis, session_id=session_id, reason="consent-withdrawn")
