"""Signing a resident in on the web, for partner apps (the browser side of /oauth2/authorize).

Three things live in Redis here, each under a key derived from a random secret:

- the browser session (`wj_web` cookie): who signed in, when, and how sure we are of them
  (`acr`); 12 hours. Stored under the SHA-256 of the cookie, so a Redis dump holds no cookie.
- QR login tickets: shown as a QR code on the page, scanned and approved (or denied) in the
  Smart Wujiang app; 2 minutes, answered once, redeemed once by the browser that asked.
- nothing else: SMS codes are identity.otp's, the pending request is identity.authorize's.

Deadlines are stored as timestamps from `core.clock` and checked here; Redis TTLs only clean up.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
import structlog
from redis.asyncio import Redis
from redis.exceptions import WatchError
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ratelimit import hit
from core.settings import get_settings
from identity import clients, keys, otp, residents
from identity.errors import (
    ClientNotFound,
    LoginTicketAnswered,
    LoginTicketDenied,
    LoginTicketExpired,
    LoginTicketNotFound,
    LoginTicketPending,
)
from identity.sms import SmsSender

WEB_SESSION_TTL = timedelta(hours=12)
TICKET_TTL = timedelta(minutes=2)
# How long an expired ticket is remembered, so the app can say "expired" rather than "unknown".
_TICKET_KEPT = timedelta(minutes=10)
SIGN_IN = "sign-in"  # the OTP purpose shared with the app's SMS sign-in (api/auth.py)
DEEP_LINK = "wujiang://login?ticket={ticket}"
_TICKET = re.compile(r"[A-Za-z0-9_-]{32}")
_COOKIE = re.compile(r"[A-Za-z0-9_-]{43}")

log = structlog.get_logger(__name__)


# --- browser sessions --------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSession:
    resident_id: uuid.UUID
    auth_time: int  # unix seconds
    acr: str
    amr: str  # "sms" or "qr"


def _web_key(cookie: str) -> str:
    return f"oauth:web:{hashlib.sha256(cookie.encode()).hexdigest()}"


async def start_web_session(redis: Redis, *, resident_id: uuid.UUID, acr: str, amr: str) -> str:
    """Open a browser session; the value of its `wj_web` cookie."""
    cookie = secrets.token_urlsafe(32)
    now = clock.now()
    record = {
        "resident_id": str(resident_id),
        "auth_time": int(now.timestamp()),
        "acr": acr,
        "amr": amr,
        "expires_at": int((now + WEB_SESSION_TTL).timestamp()),
    }
    await redis.set(_web_key(cookie), json.dumps(record), ex=WEB_SESSION_TTL)
    log.info("web_login.signed_in", amr=amr)
    return cookie


async def current_web_session(redis: Redis, cookie: str | None) -> WebSession | None:
    """The browser session of this cookie, if it is still live."""
    if not cookie or not _COOKIE.fullmatch(cookie):
        return None
    raw = await redis.get(_web_key(cookie))
    if raw is None:
        return None
    record = json.loads(raw)
    if clock.now().timestamp() >= record["expires_at"]:
        return None
    return WebSession(
        resident_id=uuid.UUID(record["resident_id"]),
        auth_time=int(record["auth_time"]),
        acr=str(record["acr"]),
        amr=str(record["amr"]),
    )


async def end_web_session(redis: Redis, cookie: str | None) -> None:
    if cookie and _COOKIE.fullmatch(cookie):
        await redis.delete(_web_key(cookie))


# --- phone and SMS code ------------------------------------------------------------------------


async def send_sign_in_code(redis: Redis, sms: SmsSender, *, phone: str, caller: str) -> None:
    """Text a sign-in code to `phone` (the same codes as the app's SMS sign-in). `caller` is an
    opaque bucket name for the browser's address."""
    key = residents.phone_key(phone)
    await hit(redis, bucket=f"sms-code:ip:{caller}", limit=20, window_seconds=3600)
    await hit(redis, bucket=f"sms-code:phone:{key}", limit=10, window_seconds=86400)
    await otp.send_code(redis, sms, key=key, phone=phone, purpose=SIGN_IN)


async def sign_in_with_code(
    session: AsyncSession, redis: Redis, *, phone: str, code: str, caller: str
) -> str:
    """Check the SMS code, find (or create) the resident; the new browser session's cookie."""
    key = residents.phone_key(phone)
    await hit(redis, bucket=f"sign-in:ip:{caller}", limit=60, window_seconds=3600)
    await otp.verify_code(redis, key=key, purpose=SIGN_IN, code=code)
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    return await start_web_session(
        redis, resident_id=resident.id, acr=resident.assurance, amr="sms"
    )


# --- QR login tickets --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginTicket:
    id: str
    status: str  # pending, approved, denied, expired
    request_id: str
    client_id: str
    client_name: str
    scope: str
    expires_at: int  # unix milliseconds
    resident_id: uuid.UUID | None

    @property
    def deep_link(self) -> str:
        return DEEP_LINK.format(ticket=self.id)


def _ticket_key(ticket_id: str) -> str:
    return f"oauth:qr:{ticket_id}"


async def new_ticket(
    redis: Redis, *, request_id: str, client_id: str, client_name: str, scope: str
) -> LoginTicket:
    """A fresh QR login ticket for the pending authorization request `request_id`."""
    ticket_id = secrets.token_urlsafe(24)
    expires_at = int((clock.now() + TICKET_TTL).timestamp() * 1000)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            _ticket_key(ticket_id),
            mapping={
                "status": "pending",
                "request_id": request_id,
                "client_id": client_id,
                "client_name": client_name,
                "scope": scope,
                "expires_at": expires_at,
                "resident_id": "",
            },
        )
        pipe.expire(_ticket_key(ticket_id), _TICKET_KEPT)
        await pipe.execute()
    return LoginTicket(
        id=ticket_id,
        status="pending",
        request_id=request_id,
        client_id=client_id,
        client_name=client_name,
        scope=scope,
        expires_at=expires_at,
        resident_id=None,
    )


async def get_ticket(redis: Redis, ticket_id: str) -> LoginTicket | None:
    """The ticket as the page polling it sees it; None if unknown."""
    return await _ticket(redis, ticket_id)


async def _ticket(redis: Redis, ticket_id: str) -> LoginTicket | None:
    if not _TICKET.fullmatch(ticket_id):
        return None
    stored = await redis.hgetall(_ticket_key(ticket_id))
    return _parse_ticket(ticket_id, stored) if stored else None


def _parse_ticket(ticket_id: str, stored: Mapping[Any, Any]) -> LoginTicket:
    # The clients of core.redis decode responses: keys and values are str.
    expires_at = int(stored["expires_at"])
    status = stored["status"]
    if status == "pending" and clock.now().timestamp() * 1000 >= expires_at:
        status = "expired"
    return LoginTicket(
        id=ticket_id,
        status=status,
        request_id=stored["request_id"],
        client_id=stored["client_id"],
        client_name=stored["client_name"],
        scope=stored["scope"],
        expires_at=expires_at,
        resident_id=uuid.UUID(stored["resident_id"]) if stored["resident_id"] else None,
    )


async def preview_ticket(redis: Redis, *, ticket_id: str) -> LoginTicket:
    """A scanned ticket the app may still answer: which partner asks, and for what."""
    ticket = await _ticket(redis, ticket_id)
    if ticket is None:
        raise LoginTicketNotFound("No such sign-in QR code.")
    if ticket.status == "expired":
        raise LoginTicketExpired("The QR code has expired; refresh the page to get a new one.")
    if ticket.status != "pending":
        raise LoginTicketAnswered("This QR code was already used.")
    return ticket


async def answer_ticket(
    redis: Redis, *, ticket_id: str, resident_id: uuid.UUID, approve: bool
) -> LoginTicket:
    """The app's answer to a scanned QR code: approve (sign this resident in on that browser)
    or deny. Each ticket is answered once; an expired one cannot be."""
    await hit(redis, bucket=f"qr-answer:resident:{resident_id}", limit=20, window_seconds=600)
    if not _TICKET.fullmatch(ticket_id):
        raise LoginTicketNotFound("No such sign-in QR code.")
    key = _ticket_key(ticket_id)
    async with redis.pipeline(transaction=True) as pipe:
        # WATCH: of two answers racing, exactly one commits.
        await pipe.watch(key)
        stored = await pipe.hgetall(key)
        if not stored:
            raise LoginTicketNotFound("No such sign-in QR code.")
        ticket = _parse_ticket(ticket_id, stored)
        if ticket.status == "expired":
            raise LoginTicketExpired("The QR code has expired; refresh the page to get a new one.")
        if ticket.status != "pending":
            raise LoginTicketAnswered("This QR code was already used.")
        status = "approved" if approve else "denied"
        pipe.multi()  # type: ignore[no-untyped-call]
        pipe.hset(key, mapping={"status": status, "resident_id": str(resident_id)})
        try:
            await pipe.execute()
        except WatchError:
            raise LoginTicketAnswered("This QR code was already used.") from None
    log.info("web_login.qr_answered", status=status, client_id=ticket.client_id)
    return _with(ticket, status=status, resident_id=resident_id)


def _with(ticket: LoginTicket, *, status: str, resident_id: uuid.UUID) -> LoginTicket:
    return LoginTicket(
        id=ticket.id,
        status=status,
        request_id=ticket.request_id,
        client_id=ticket.client_id,
        client_name=ticket.client_name,
        scope=ticket.scope,
        expires_at=ticket.expires_at,
        resident_id=resident_id,
    )


async def redeem_ticket(
    session: AsyncSession, redis: Redis, *, ticket_id: str, request_id: str
) -> str:
    """Once the app approved the ticket, open the browser session (once); its cookie value.
    The ticket must belong to the same pending request, so only the browser that showed the QR
    code can use the approval."""
    ticket = await _ticket(redis, ticket_id)
    if ticket is None or ticket.request_id != request_id:
        raise LoginTicketNotFound("No such sign-in QR code.")
    if ticket.status == "pending":
        raise LoginTicketPending("Scan the QR code and confirm in the Smart Wujiang app first.")
    if ticket.status == "expired":
        raise LoginTicketExpired("The QR code has expired.")
    if ticket.status == "denied":
        raise LoginTicketDenied("The sign-in was declined in the app.")
    if not await redis.delete(_ticket_key(ticket_id)):  # single use, even under a race
        raise LoginTicketNotFound("No such sign-in QR code.")
    assert ticket.resident_id is not None
    resident = await residents.get(session, resident_id=ticket.resident_id)
    return await start_web_session(redis, resident_id=resident.id, acr=resident.assurance, amr="qr")


# --- RP-initiated logout -----------------------------------------------------------------------


async def end_session(
    session: AsyncSession,
    redis: Redis,
    *,
    cookie: str | None,
    id_token_hint: str | None,
    client_id: str | None,
    post_logout_redirect_uri: str | None,
) -> str | None:
    """End the browser session (OpenID Connect RP-Initiated Logout 1.0). The URI to send the
    browser back to, if it is registered for the client the hint (or `client_id`) names."""
    await end_web_session(redis, cookie)
    log.info("web_login.signed_out")
    if not post_logout_redirect_uri:
        return None
    hinted = await _hinted_client(session, id_token_hint)
    if id_token_hint and hinted is None:
        return None  # a hint that is not ours: do not trust its redirect
    named = hinted or client_id
    if not named or (client_id and hinted and client_id != hinted):
        return None
    try:
        client = await clients.get_client(session, named)
    except ClientNotFound:
        return None
    if post_logout_redirect_uri not in client.post_logout_redirect_uris:
        return None
    return post_logout_redirect_uri


async def _hinted_client(session: AsyncSession, id_token_hint: str | None) -> str | None:
    """The client an ID token we signed was issued to; expired hints are accepted."""
    if not id_token_hint or len(id_token_hint) > 8192:
        return None
    try:
        header = jwt.get_unverified_header(id_token_hint)
        kid = header.get("kid")
        if header.get("alg") != keys.ALGORITHM or not isinstance(kid, str) or len(kid) > 64:
            return None
        public_key = await keys.verification_key(session, kid)
        if public_key is None:
            return None
        claims = jwt.decode(
            id_token_hint,
            public_key,
            algorithms=[keys.ALGORITHM],
            issuer=get_settings().issuer,
            options={"verify_exp": False, "verify_aud": False, "require": ["iss", "sub", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None
    audience = claims["aud"]
    if isinstance(audience, list):
        audience = audience[0] if len(audience) == 1 else claims.get("azp")
    return audience if isinstance(audience, str) else None
