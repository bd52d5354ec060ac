"""Authorization codes (RFC 6749 §4.1): the hand-over from the browser flow to the token endpoint.

The browser flow (/oauth2/authorize) calls `issue` once the resident has signed in and consented;
the token endpoint calls `redeem`. A code lives in Redis for `CODE_TTL_SECONDS` under
`oauth:code:<sha256 hex of the code>` as JSON::

    {"client_id", "redirect_uri", "scope" (space-separated), "code_challenge",
     "code_challenge_method": "S256", "resident_id", "nonce" (or null), "auth_time" (unix int),
     "acr", "amr" (optional, a list such as ["sms"])}

Only the hash is a key, so a Redis dump holds no usable code. Redemption is single use (GETDEL).
A redeemed code leaves a marker for `REPLAY_WINDOW_SECONDS`, later holding the session the
redemption opened: a second use of the code then ends that session (RFC 6749 §4.1.2).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis

CODE_TTL_SECONDS = 60
# Longer than the code's own life: a replay is most likely just after the first use, but an
# attacker holding a leaked code may try later; the marker costs a few bytes per code.
REPLAY_WINDOW_SECONDS = 600


class AuthorizationCode(BaseModel):
    """What a code stands for: who approved which client, for what, and the PKCE challenge."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: Literal["S256"] = "S256"
    resident_id: uuid.UUID
    nonce: str | None
    auth_time: int
    acr: str
    # Optional beyond the contract: how the resident signed in (RFC 8176), e.g. ["sms"].
    amr: tuple[str, ...] | None = None

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


def _digest(code: str) -> str:
    # Codes carry 256 random bits: a plain hash suffices.
    return hashlib.sha256(code.encode()).hexdigest()


def code_key(code: str) -> str:
    return f"oauth:code:{_digest(code)}"


def _redeemed_key(code: str) -> str:
    return f"oauth:code-redeemed:{_digest(code)}"


async def issue(
    redis: Redis,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    resident_id: uuid.UUID,
    nonce: str | None,
    auth_time: int,
    acr: str,
    amr: list[str] | None = None,
) -> str:
    """A fresh single-use code for the token endpoint, valid for `CODE_TTL_SECONDS`."""
    code = secrets.token_urlsafe(32)
    payload = AuthorizationCode(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge=code_challenge,
        resident_id=resident_id,
        nonce=nonce,
        auth_time=auth_time,
        acr=acr,
        amr=tuple(amr) if amr else None,
    )
    await redis.set(code_key(code), payload.model_dump_json(), ex=CODE_TTL_SECONDS)
    return code


async def redeem(redis: Redis, code: str) -> AuthorizationCode | None:
    """The code's grant, at most once; None if unknown, expired or already redeemed.

    Taking the code and leaving the redeemed marker happen in one transaction, so a concurrent
    second use either loses the code or finds the marker."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.getdel(code_key(code))
        pipe.set(_redeemed_key(code), "", ex=REPLAY_WINDOW_SECONDS, nx=True)
        raw, _ = await pipe.execute()
    if raw is None:
        return None
    try:
        return AuthorizationCode.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None


async def record_session(redis: Redis, code: str, session_id: uuid.UUID) -> None:
    """Note beside the redeemed marker which session the code opened (for `replayed_session`)."""
    await redis.set(_redeemed_key(code), str(session_id), ex=REPLAY_WINDOW_SECONDS, xx=True)


async def replayed_session(redis: Redis, code: str) -> uuid.UUID | None:
    """The session a previous redemption of `code` opened, if the code was redeemed before."""
    value = await redis.get(_redeemed_key(code))
    if not value:
        return None
    try:
        return uuid.UUID(value if isinstance(value, str) else value.decode())
    except ValueError:
        return None
