"""Token revocation (RFC 7009) and introspection (RFC 7662) for authenticated clients.

A client reaches only tokens issued to itself: anything else is reported inactive (and a
revocation of it is silently a no-op, RFC 7009 §2.2), so the endpoints reveal nothing about
other clients' tokens."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from identity import sessions, tokens
from identity.errors import InvalidToken
from identity.models import Client, RefreshToken
from identity.pairwise import pairwise_subject
from identity.tokens import AccessClaims

refresh_t = RefreshToken.metadata.tables["identity_refresh_token"]
INACTIVE: dict[str, Any] = {"active": False}


async def revoke(session: AsyncSession, redis: Redis, *, client: Client, token: str) -> None:
    """End the session behind an access or refresh token of `client`; otherwise do nothing."""
    claims = await _access_claims(session, redis, token)
    if claims is not None:
        if claims.client_id == client.client_id:
            await sessions.revoke(session, redis, session_id=claims.sid, reason="client-revoked")
        return
    found = await sessions.refresh_token_record(session, token)
    if found is not None and found[1].client_id == client.client_id:
        await sessions.revoke(session, redis, session_id=found[1].id, reason="client-revoked")


async def introspect(
    session: AsyncSession, redis: Redis, *, client: Client, token: str
) -> dict[str, Any]:
    """RFC 7662 §2.2: the token's metadata if it is active and `client`'s own; else inactive."""
    claims = await _access_claims(session, redis, token)
    if claims is not None:
        if claims.client_id != client.client_id:
            return INACTIVE
        return {
            "active": True,
            "scope": claims.scope,
            "client_id": claims.client_id,
            "sub": claims.sub,  # pairwise for partner tokens
            "exp": int(claims.exp.timestamp()),
            "iat": int(claims.iat.timestamp()),
            "token_type": "Bearer",
            "aud": claims.aud,
            "iss": claims.iss,
            "jti": claims.jti,
        }
    found = await sessions.refresh_token_record(session, token)
    if found is None:
        return INACTIVE
    row, auth = found
    now = clock.now()
    live = row.used_at is None and row.expires_at > now
    if not live or auth.revoked_at is not None or auth.expires_at <= now:
        return INACTIVE
    if auth.client_id != client.client_id:
        return INACTIVE
    subject = auth.subject
    if auth.channel == "partner":
        subject = pairwise_subject(auth.client_id, auth.subject)
    return {
        "active": True,
        "scope": auth.scope,
        "client_id": auth.client_id,
        "sub": subject,
        "exp": int(row.expires_at.timestamp()),
        "token_type": "refresh_token",
    }


async def _access_claims(session: AsyncSession, redis: Redis, token: str) -> AccessClaims | None:
    """The claims of a valid access token of either audience; None for anything else."""
    if token.count(".") != 2:
        return None
    for audience in (sessions.PARTNER_AUDIENCE, sessions.API_AUDIENCE):
        try:
            return await tokens.verify_access_token(session, token, audience=audience, redis=redis)
        except InvalidToken as refused:
            if refused.reason != "audience":
                return None
    return None
