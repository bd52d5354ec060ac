"""The OpenID Connect provider's token side: the authorization-code grant with PKCE, ID tokens
(OIDC Core §2, §3.1.3.6) and the UserInfo claims (§5.3), released by scope.

Partners see residents under a pairwise `sub` (identity.pairwise); their access tokens carry the
audience `wujiang-partner` and so never pass as app tokens, nor app tokens here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import timedelta
from typing import Any, NoReturn

import jwt
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_keyring, get_settings
from identity import authorization_codes, keys, residents, sessions, tokens
from identity.authorization_codes import AuthorizationCode
from identity.errors import InsufficientScope, InvalidGrant, InvalidToken
from identity.models import Assurance, AuthSession, Client, Resident
from identity.pairwise import pairwise_subject

ID_TOKEN_TTL = timedelta(minutes=10)
# RFC 7636 §4.1: 43-128 characters of the unreserved set.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_VERIFIED_LEVELS = frozenset({Assurance.REAL_NAME.value, Assurance.IN_PERSON.value})


async def exchange_code(
    session: AsyncSession,
    redis: Redis,
    *,
    client: Client,
    code: str,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> dict[str, Any]:
    """RFC 6749 §4.1.3 with RFC 7636: an authenticated client's code for tokens, once."""
    grant = await authorization_codes.redeem(redis, code)
    if grant is None:
        await _refuse_replay(session, redis, code)
    if grant.client_id != client.client_id:
        raise InvalidGrant("The code was issued to another client.")
    if redirect_uri != grant.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request.")
    _check_pkce(grant, code_verifier)
    if not grant.scopes <= frozenset(client.allowed_scopes.split()):
        raise InvalidGrant("The code asks for scopes this client may not have.")
    issued = await sessions.start(
        session,
        subject_type="resident",
        subject=str(grant.resident_id),
        client_id=client.client_id,
        channel="partner",
        assurance=grant.acr,
        scope=grant.scope,
        device_name=client.name,
    )
    await authorization_codes.record_session(redis, code, issued.session_id)
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    # Without offline_access the session's refresh token is never handed out, so it is unusable.
    if "offline_access" in grant.scopes:
        body["refresh_token"] = issued.refresh_token
    if "openid" in grant.scopes:
        body["id_token"] = await id_token(
            session, grant=grant, access_token=issued.access_token, session_id=issued.session_id
        )
    return body


async def _refuse_replay(session: AsyncSession, redis: Redis, code: str) -> NoReturn:
    first = await authorization_codes.replayed_session(redis, code)
    if first is not None:
        # RFC 6749 §4.1.2: a code used twice was stolen; end what the first use opened.
        await sessions.revoke(session, redis, session_id=first, reason="code-replay")
        error = InvalidGrant("The code was already used; the tokens it gave are revoked.")
        error.keeps_changes = True
        raise error
    raise InvalidGrant("The code is not valid, has expired or was already used.")


def _check_pkce(grant: AuthorizationCode, verifier: str | None) -> None:
    if not verifier:
        raise InvalidGrant("PKCE: code_verifier is required.")
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidGrant("PKCE: code_verifier must be 43-128 unreserved characters.")
    if grant.code_challenge_method != "S256":  # no `plain`, no downgrade
        raise InvalidGrant("PKCE: only S256 is accepted.")
    if not hmac.compare_digest(s256(verifier), grant.code_challenge):
        raise InvalidGrant("PKCE: code_verifier does not match the code_challenge.")


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def token_hash(access_token: str) -> str:
    """`at_hash`: the left half of SHA-256 of the access token, base64url (OIDC §3.1.3.6)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")


async def id_token(
    session: AsyncSession, *, grant: AuthorizationCode, access_token: str, session_id: uuid.UUID
) -> str:
    """An ES256 ID token for the client that redeemed `grant`."""
    now = clock.now().replace(microsecond=0)
    claims: dict[str, Any] = {
        "iss": get_settings().issuer,
        "sub": pairwise_subject(grant.client_id, str(grant.resident_id)),
        "aud": grant.client_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ID_TOKEN_TTL).timestamp()),
        "auth_time": grant.auth_time,
        "acr": grant.acr,
        "at_hash": token_hash(access_token),
        "sid": str(session_id),
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    if grant.amr:
        claims["amr"] = list(grant.amr)
    key = await keys.current_signing_key(session)
    return jwt.encode(
        claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"}
    )


# --- UserInfo --------------------------------------------------------------------------------


async def userinfo(session: AsyncSession, redis: Redis, *, access_token: str) -> dict[str, Any]:
    """The claims a partner's access token may read, by its scopes (OIDC Core §5.3)."""
    claims = await tokens.verify_access_token(
        session, access_token, audience=sessions.PARTNER_AUDIENCE, redis=redis
    )
    auth = await session.get(AuthSession, claims.sid)
    if auth is None or auth.revoked_at is not None or auth.channel != "partner":
        raise InvalidToken("The session of this token has ended.", reason="revoked")
    if "openid" not in claims.scopes:
        raise InsufficientScope("UserInfo needs the openid scope.", scope="openid")
    resident = await residents.get(session, resident_id=uuid.UUID(auth.subject))
    return release(resident, scopes=claims.scopes, sub=claims.sub, acr=auth.assurance)


def release(resident: Resident, *, scopes: frozenset[str], sub: str, acr: str) -> dict[str, Any]:
    """The claims of `resident` that `scopes` allow; real-name claims only at L2 or above."""
    keyring = get_keyring()
    verified = resident.assurance in _VERIFIED_LEVELS and resident.real_name_verified_at is not None
    name = (
        keyring.decrypt(resident.name_token, context=residents.NAME)
        if verified and resident.name_token
        else None
    )
    out: dict[str, Any] = {"sub": sub}
    if "profile" in scopes:
        out["locale"] = resident.language
        if name:
            out["name"] = name
    if "phone" in scopes:
        phone = keyring.decrypt(resident.phone_token, context=residents.PHONE)
        out["phone_number"] = f"+86{phone}"
        out["phone_number_verified"] = True
    if "real_name" in scopes:
        out["real_name_verified"] = verified and name is not None
        out["acr"] = acr
        if verified and name and resident.id_number_token:
            out["name"] = name
            out["id_number"] = keyring.decrypt(
                resident.id_number_token, context=residents.ID_NUMBER
            )
    return out
