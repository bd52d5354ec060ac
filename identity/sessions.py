"""Sign-in sessions: each sign-in on a device is a session with a rotating refresh token.

Refresh tokens are opaque, random, stored only as a hash and rotated on every use. A token
presented again after it was rotated means it leaked: the session (the whole token family) is
revoked. Revocation also reaches access tokens at once, through Redis (see identity.tokens).

Residents are told of every sign-in and of a reused refresh token (security notices, written to
the outbox in the same transaction); ending a session removes the push tokens it registered."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from core.settings import get_settings
from identity import tokens
from identity.errors import InvalidGrant, SessionNotFound
from identity.models import AuthSession, RefreshToken
from identity.pairwise import pairwise_subject
from identity.schemas import SessionOut, TokenResponse
from notifications import devices, outbox

API_AUDIENCE = "wujiang-api"
# Tokens of partner (OpenID Connect) sessions: a different resource, so they never pass as app
# tokens, and a pairwise subject (identity.pairwise) instead of the resident id.
PARTNER_AUDIENCE = "wujiang-partner"
# Two refreshes racing with the same token (a client retrying, two tabs): the loser is refused
# without revoking the session if the winner rotated it this recently.
RACE_GRACE = timedelta(seconds=10)

session_t = AuthSession.metadata.tables["identity_session"]
refresh_t = RefreshToken.metadata.tables["identity_refresh_token"]


async def start(
    session: AsyncSession,
    *,
    subject_type: str,
    subject: str,
    client_id: str,
    channel: str,
    assurance: str,
    scope: str,
    device_name: str | None = None,
) -> TokenResponse:
    """Open a session for a subject who has just proven who they are; its first tokens."""
    now = clock.now()
    auth = AuthSession(
        id=new_id(),
        subject_type=subject_type,
        subject=subject,
        client_id=client_id,
        channel=channel,
        assurance=assurance,
        scope=scope,
        device_name=(device_name or "")[:200] or None,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=get_settings().refresh_token_ttl_days),
    )
    session.add(auth)
    await session.flush()
    if subject_type == "resident":
        await _tell_resident(
            session,
            auth,
            "security.signed_in",
            channel=auth.channel,
            device_name=auth.device_name,
            at=now.isoformat(),
        )
    return await _tokens(session, auth, await _new_refresh_token(session, auth.id, now))


async def refresh(
    session: AsyncSession, redis: Redis, *, refresh_token: str, client_id: str
) -> TokenResponse:
    """Trade a refresh token for new tokens; the old refresh token stops working."""
    now = clock.now()
    digest = _hash(refresh_token)
    successor = new_id()
    claimed = await session.execute(
        update(refresh_t)
        .where(
            refresh_t.c.token_hash == digest,
            refresh_t.c.used_at.is_(None),
            refresh_t.c.expires_at > now,
        )
        .values(used_at=now, replaced_by_id=successor)
        .returning(refresh_t.c.session_id)
    )
    session_id = claimed.scalar_one_or_none()
    if session_id is None:
        await _refuse(session, redis, digest, now)
    auth = await session.get(AuthSession, session_id)
    if auth is None or auth.revoked_at is not None or auth.expires_at <= now:
        raise InvalidGrant("The session has ended; sign in again.")
    if auth.client_id != client_id:
        await revoke(session, redis, session_id=auth.id, reason="client-mismatch")
        raise _keeping(InvalidGrant("The refresh token was issued to another client."))
    auth.last_used_at = now
    raw = await _new_refresh_token(session, auth.id, now, token_id=successor)
    return await _tokens(session, auth, raw)


async def _refuse(session: AsyncSession, redis: Redis, digest: str, now: datetime) -> Any:
    row = await _refresh_row(session, digest)
    if row is not None and row.used_at is not None:
        if now - row.used_at > RACE_GRACE:
            # Reuse of a rotated token: someone else holds a copy. End the whole family, and
            # keep that ending although the request itself is refused.
            ended = await revoke(
                session, redis, session_id=row.session_id, reason="refresh-token-reuse"
            )
            auth = await session.get(AuthSession, row.session_id)
            if ended and auth is not None and auth.subject_type == "resident":
                await _tell_resident(
                    session, auth, "security.refresh_token_reused", at=now.isoformat()
                )
            raise _keeping(
                InvalidGrant("The refresh token was already used; the session is ended.")
            )
        raise InvalidGrant("The refresh token was just used by another request.")
    raise InvalidGrant("The refresh token is not valid or has expired.")


async def list_sessions(session: AsyncSession, *, subject: str) -> list[SessionOut]:
    """The subject's live sessions (devices), newest activity first."""
    now = clock.now()
    rows = await session.execute(
        select(AuthSession)
        .where(
            session_t.c.subject == subject,
            session_t.c.revoked_at.is_(None),
            session_t.c.expires_at > now,
        )
        .order_by(session_t.c.last_used_at.desc())
    )
    return [_out(s) for s in rows.scalars()]


async def revoke(
    session: AsyncSession,
    redis: Redis,
    *,
    session_id: uuid.UUID,
    subject: str | None = None,
    reason: str = "signed-out",
) -> bool:
    """End a session: its refresh tokens stop at once, its access tokens on their next use, and
    the push tokens it registered are removed. Whether it was live until now."""
    stmt = update(session_t).where(session_t.c.id == session_id, session_t.c.revoked_at.is_(None))
    if subject is not None:  # a resident may only end their own sessions
        stmt = stmt.where(session_t.c.subject == subject)
    result = await session.execute(
        stmt.values(revoked_at=clock.now(), revoked_reason=reason).returning(session_t.c.id)
    )
    if result.first() is None:
        if subject is not None and not await _owns(session, session_id, subject):
            raise SessionNotFound("No such session.")
        return False  # already revoked: nothing more to do
    await devices.forget_sessions(session, [session_id])
    await tokens.mark_session_revoked(redis, session_id, ttl_seconds=_revocation_ttl())
    return True


async def revoke_all(session: AsyncSession, redis: Redis, *, subject: str) -> int:
    """Sign out everywhere: end every live session of the subject; how many were ended."""
    result = await session.execute(
        update(session_t)
        .where(session_t.c.subject == subject, session_t.c.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason="signed-out-everywhere")
        .returning(session_t.c.id)
    )
    ended = [row[0] for row in result]
    await devices.forget_sessions(session, ended)
    for session_id in ended:
        await tokens.mark_session_revoked(redis, session_id, ttl_seconds=_revocation_ttl())
    return len(ended)


async def _owns(session: AsyncSession, session_id: uuid.UUID, subject: str) -> bool:
    found = await session.scalar(
        select(session_t.c.id).where(session_t.c.id == session_id, session_t.c.subject == subject)
    )
    return found is not None


async def _tell_resident(
    session: AsyncSession, auth: AuthSession, topic: str, **details: str | None
) -> None:
    """A security notice to the session's resident, in this transaction."""
    await outbox.enqueue(
        session,
        topic=topic,
        resident_id=uuid.UUID(auth.subject),
        payload={"session_id": str(auth.id), **details},
    )


def _keeping(error: InvalidGrant) -> InvalidGrant:
    error.keeps_changes = True
    return error


def _revocation_ttl() -> int:
    # Long enough to outlive every access token issued before the revocation.
    return get_settings().access_token_ttl_seconds + 120


async def _new_refresh_token(
    session: AsyncSession,
    session_id: uuid.UUID,
    now: datetime,
    *,
    token_id: uuid.UUID | None = None,
) -> str:
    raw = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            id=token_id or new_id(),
            session_id=session_id,
            token_hash=_hash(raw),
            created_at=now,
            expires_at=now + timedelta(days=get_settings().refresh_token_ttl_days),
        )
    )
    await session.flush()
    return raw


async def _tokens(session: AsyncSession, auth: AuthSession, refresh_token: str) -> TokenResponse:
    issued = await tokens.issue_access_token(
        session,
        # Derived from the session's channel, so refreshed partner tokens keep both.
        subject=_token_subject(auth),
        client_id=auth.client_id,
        audience=PARTNER_AUDIENCE if auth.channel == "partner" else API_AUDIENCE,
        scope=auth.scope,
        session_id=auth.id,
        assurance=auth.assurance,
        channel=auth.channel,
        extra=await _extra_claims(session, auth),
    )
    return TokenResponse(
        access_token=issued.token,
        expires_in=get_settings().access_token_ttl_seconds,
        refresh_token=refresh_token,
        scope=auth.scope,
        session_id=auth.id,
    )


async def _extra_claims(session: AsyncSession, auth: AuthSession) -> dict[str, Any] | None:
    """Claims derived afresh at every issue (sign-in and each refresh), never stored with the
    session: a staff member's roles come from their current grants, so a revoked grant is gone
    from the next token, and a disabled account gets none."""
    if auth.subject_type != "staff":
        return None
    from identity import staff  # deferred: identity.staff ends sessions through this module

    return await staff.token_claims(session, staff_id=uuid.UUID(auth.subject))


def _token_subject(auth: AuthSession) -> str:
    if auth.channel == "partner":
        return pairwise_subject(auth.client_id, auth.subject)
    return auth.subject


async def refresh_token_record(
    session: AsyncSession, refresh_token: str
) -> tuple[Any, AuthSession] | None:
    """The stored refresh token and its session, without using it (introspection, revocation)."""
    row = await _refresh_row(session, _hash(refresh_token))
    if row is None:
        return None
    auth = await session.get(AuthSession, row.session_id)
    return None if auth is None else (row, auth)


async def _refresh_row(session: AsyncSession, digest: str) -> Any:
    stmt = select(refresh_t).where(refresh_t.c.token_hash == digest)
    return (await session.execute(stmt)).first()


def _hash(raw: str) -> str:
    # Refresh tokens carry 256 random bits: a plain hash is enough, no salt or slow hash needed.
    return hashlib.sha256(raw.encode()).hexdigest()


def _out(auth: AuthSession) -> SessionOut:
    return SessionOut(
        id=auth.id,
        client_id=auth.client_id,
        channel=auth.channel,
        device_name=auth.device_name,
        assurance=auth.assurance,
        created_at=auth.created_at,
        last_used_at=auth.last_used_at,
        expires_at=auth.expires_at,
    )
