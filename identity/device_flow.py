"""The OAuth 2.0 device authorization grant (RFC 8628): a TV box pairs with a resident's account.

The box asks for a device code and shows the resident a short user code; the resident approves
or denies it in the app; meanwhile the box polls the token endpoint. Everything lives in Redis
for the ten minutes a request lasts:

- `device:dc:<sha256 of the device code>`: a hash with the request's state. Only the digest of
  the device code is kept, so a copy of Redis cannot be used to collect anyone's tokens.
- `device:uc:<keyed hash of the user code>`: the device-code digest, created with SET NX, so no
  two live requests share a user code. The user code is keyed (HMAC) rather than plainly
  hashed: its 20^8 values would be a short search away from a plain hash.

Deadlines and polling times are stored as `core.clock` timestamps and checked here; the Redis
TTLs only clean up. So tests move the clock, and `expired_token` outlives the deadline by a while
instead of turning into an unknown code the moment Redis drops the key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import WatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_keyring, get_settings
from identity import sessions
from identity.clients import TV_CLIENT_ID
from identity.errors import (
    AuthorizationPending,
    DeviceAccessDenied,
    DeviceCodeExpired,
    InvalidClient,
    InvalidDeviceScope,
    InvalidGrant,
    InvalidUserCode,
    SlowDown,
    UserCodeAlreadyDecided,
    UserCodeNotFound,
)
from identity.models import Client, Resident
from identity.schemas import DeviceAuthorization, DeviceRequest, TokenResponse

# Consonants only: no vowels to spell words, none of the look-alikes 0/O, 1/I/L... (RFC 8628 §6.1).
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
EXPIRES_IN = timedelta(seconds=600)
INTERVAL = timedelta(seconds=5)
SLOW_DOWN_STEP = timedelta(seconds=5)
VERIFICATION_PATH = "/device"
# How long after its deadline a request is still known, so that a box polling late hears
# `expired_token` rather than `invalid_grant`.
KEEP_AFTER_EXPIRY = timedelta(hours=1)
_MAX_TRANSACTION_RETRIES = 20
_MAX_CODE_ATTEMPTS = 10

# The first-party TV app: a public client on every set-top box, so it has no secret to prove.
# Its tokens may read points but never carry `profile`, which guards account changes.
TV_CLIENT_NAME = "智慧吴江 电视"
TV_SCOPES = frozenset({"points:read"})
TV_DEFAULT_SCOPE = "points:read"
TV_DEVICE_NAME = "TV box"

PENDING, APPROVED, DENIED, CONSUMED = "pending", "approved", "denied", "consumed"

client_t = Client.metadata.tables["identity_client"]
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeviceClient:
    """A client allowed to use the device grant, and the scope it is asking for."""

    client_id: str
    name: str
    scope: str


@dataclass(frozen=True)
class DeviceGrant:
    """An approved request, handed out once: who approved it, for which client and scope."""

    resident_id: uuid.UUID
    client_id: str
    scope: str


Verdict = (
    DeviceGrant
    | AuthorizationPending
    | SlowDown
    | DeviceAccessDenied
    | DeviceCodeExpired
    | InvalidGrant
)


# --- user codes ----------------------------------------------------------------------------------


def new_user_code() -> str:
    """Eight random letters of the alphabet (20^8, about 2.6e10 codes), canonical form."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def display_user_code(code: str) -> str:
    """`BCDF-GHJK`: how a canonical code is shown on the screen and in the app."""
    return f"{code[:4]}-{code[4:]}"


def normalize_user_code(text: str) -> str:
    """The canonical code of what a resident typed: any case, `-` and spaces anywhere; any other
    character, or the wrong number of letters, is refused with InvalidUserCode."""
    compact = text.replace("-", "").replace(" ", "")
    # ASCII only before upper-casing: "ſ".upper() is "S", and must not pass as one.
    code = compact.upper() if compact.isascii() else ""
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        raise InvalidUserCode(
            f"A code is {USER_CODE_LENGTH} letters from {USER_CODE_ALPHABET}, like BCDF-GHJK."
        )
    return code


# --- the device (the TV box) ---------------------------------------------------------------------


async def request_authorization(
    session: AsyncSession, redis: Redis, *, client_id: str, scope: str | None
) -> DeviceAuthorization:
    """RFC 8628 §3.1-3.2 for a client allowed the device grant: a new device and user code."""
    client = await device_client(session, client_id=client_id, scope=scope)
    return await start(
        redis, client_id=client.client_id, scope=client.scope, client_name=client.name
    )


async def device_client(
    session: AsyncSession, *, client_id: str, scope: str | None
) -> DeviceClient:
    """The first-party TV client, or a registered, enabled public client; the scope it may have.

    The client table has no list of grant types: the device grant is open to public clients
    (`auth_method` none), which are the ones with no secret to keep on a box."""
    if client_id == TV_CLIENT_ID:
        return DeviceClient(
            TV_CLIENT_ID, TV_CLIENT_NAME, _scope(scope, TV_SCOPES, TV_DEFAULT_SCOPE)
        )
    row = (
        await session.execute(
            select(client_t.c.name, client_t.c.allowed_scopes).where(
                client_t.c.client_id == client_id,
                client_t.c.auth_method == "none",
                client_t.c.disabled_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise InvalidClient("Unknown client, or it may not use the device authorization grant.")
    allowed = str(row.allowed_scopes)
    return DeviceClient(
        client_id, str(row.name), _scope(scope, frozenset(allowed.split()), allowed)
    )


def _scope(requested: str | None, allowed: frozenset[str], default: str) -> str:
    if requested is None or not requested.strip():
        return default
    scopes = requested.split()
    if not set(scopes) <= allowed:
        raise InvalidDeviceScope("The client may not ask for some of these scopes.")
    return " ".join(dict.fromkeys(scopes))


async def start(
    redis: Redis, *, client_id: str, scope: str, client_name: str | None = None
) -> DeviceAuthorization:
    """Open a device authorization request: a device code for the box to poll with and a user
    code, unique among live requests, for the resident to type in the app."""
    device_code = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    digest = _digest(device_code)
    now = clock.now()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(
            _request_key(digest),
            mapping={
                "client_id": client_id,
                "client_name": client_name or client_id,
                "scope": scope,
                "status": PENDING,
                "expires_at": _ms(now + EXPIRES_IN),
                "interval": _seconds(INTERVAL),
                "last_poll": "",
                "resident_id": "",
            },
        )
        pipe.pexpire(_request_key(digest), _ms_of(EXPIRES_IN + KEEP_AFTER_EXPIRY))
        await pipe.execute()
    user_code = await _claim_user_code(redis, digest)
    log.info("device.authorization_started", client_id=client_id)
    uri = get_settings().issuer.rstrip("/") + VERIFICATION_PATH
    shown = display_user_code(user_code)
    return DeviceAuthorization(
        device_code=device_code,
        user_code=shown,
        verification_uri=uri,
        verification_uri_complete=f"{uri}?user_code={shown}",
        expires_in=_seconds(EXPIRES_IN),
        interval=_seconds(INTERVAL),
    )


async def _claim_user_code(redis: Redis, digest: str) -> str:
    for _ in range(_MAX_CODE_ATTEMPTS):
        code = new_user_code()
        if await redis.set(_code_key(code), digest, nx=True, px=_ms_of(EXPIRES_IN)):
            return code
    raise RuntimeError("no free user code after repeated attempts")


async def poll(redis: Redis, *, device_code: str, client_id: str) -> DeviceGrant:
    """RFC 8628 §3.5: the approved grant, once; otherwise raise AuthorizationPending, SlowDown
    (remembering an interval 5 s longer), DeviceAccessDenied, DeviceCodeExpired or InvalidGrant."""
    key = _request_key(_digest(device_code))
    for _ in range(_MAX_TRANSACTION_RETRIES):
        async with redis.pipeline(transaction=True) as pipe:
            # Of two polls racing on an approved request, only one commits and gets the grant.
            await pipe.watch(key)
            state = _text(await pipe.hgetall(key))
            now = clock.now()
            verdict = _verdict(state, client_id=client_id, now=now)
            if isinstance(verdict, InvalidGrant | DeviceCodeExpired | DeviceAccessDenied):
                raise verdict  # final answers change nothing
            pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            if isinstance(verdict, DeviceGrant):
                pipe.hset(key, "status", CONSUMED)
            else:
                pipe.hset(
                    key,
                    mapping={"last_poll": _ms(now), "interval": _interval(state, verdict)},
                )
            try:
                await pipe.execute()
            except WatchError:
                continue
        if isinstance(verdict, DeviceGrant):
            log.info("device.authorization_granted", client_id=client_id)
            return verdict
        raise verdict
    raise RuntimeError("poll: the request kept changing under contention")


def _verdict(state: dict[str, str], *, client_id: str, now: datetime) -> Verdict:
    # A pending request alone can be polled too fast: once decided or expired, the answer is
    # final and a hurried box is better told at once (slow_down means "still pending", §3.5).
    if not state or state["client_id"] != client_id:
        return InvalidGrant("The device code is not valid for this client.")
    if state["status"] == CONSUMED:
        return InvalidGrant("The device code was already exchanged for tokens.")
    if _ms(now) >= int(state["expires_at"]):
        return DeviceCodeExpired("The device code has expired; start again.")
    if state["status"] == DENIED:
        return DeviceAccessDenied("The resident denied the request.")
    if state["status"] == APPROVED:
        return DeviceGrant(uuid.UUID(state["resident_id"]), state["client_id"], state["scope"])
    interval = int(state["interval"])
    last_poll = state["last_poll"]
    if last_poll and _ms(now) - int(last_poll) < interval * 1000:
        return SlowDown(f"Poll at most every {interval + _seconds(SLOW_DOWN_STEP)} s.")
    return AuthorizationPending("The resident has not approved the request yet.")


def _interval(state: dict[str, str], verdict: AuthorizationPending | SlowDown) -> int:
    interval = int(state["interval"])
    # "for this and all subsequent requests" (§3.5): the longer interval is remembered.
    return interval + _seconds(SLOW_DOWN_STEP) if isinstance(verdict, SlowDown) else interval


async def exchange(
    session: AsyncSession, redis: Redis, *, device_code: str, client_id: str
) -> TokenResponse:
    """The token request of a polling box: once approved, a `tv` session for the resident (so
    the box shows among their devices) and its first tokens; until then `poll`'s refusals."""
    grant = await poll(redis, device_code=device_code, client_id=client_id)
    resident = await session.get(Resident, grant.resident_id)
    if resident is None:
        raise InvalidGrant("The account that approved this request no longer exists.")
    return await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id=grant.client_id,
        channel="tv",
        assurance=resident.assurance,
        scope=grant.scope,
        device_name=TV_DEVICE_NAME,
    )


# --- the resident (the app) ----------------------------------------------------------------------


async def lookup(redis: Redis, *, user_code: str) -> DeviceRequest:
    """What the typed code would approve: the client and scope, while it awaits a decision."""
    code = normalize_user_code(user_code)
    key = await _request_key_of(redis, code)
    return _request_out(_pending(_text(await redis.hgetall(key)) if key else {}), code=code)


async def decide(
    redis: Redis, *, user_code: str, resident_id: uuid.UUID, approve: bool
) -> DeviceRequest:
    """Approve (for `resident_id`) or deny the request behind a user code; decided once only."""
    code = normalize_user_code(user_code)
    key = await _request_key_of(redis, code)
    status = APPROVED if approve else DENIED
    for _ in range(_MAX_TRANSACTION_RETRIES):
        async with redis.pipeline(transaction=True) as pipe:
            # Two decisions racing on one code: only the first to commit counts.
            if key:
                await pipe.watch(key)
            state = _pending(_text(await pipe.hgetall(key)) if key else {})
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.hset(
                key,
                mapping={"status": status, "resident_id": str(resident_id) if approve else ""},
            )
            try:
                await pipe.execute()
            except WatchError:
                continue
        log.info("device.authorization_decided", client_id=state["client_id"], approved=approve)
        return _request_out({**state, "status": status}, code=code)
    raise RuntimeError("decide: the request kept changing under contention")


async def _request_key_of(redis: Redis, code: str) -> str:
    """The request behind a user code, or "" if none; the mapping never changes while it lives."""
    digest = await redis.get(_code_key(code))
    return _request_key(str(digest)) if digest else ""


def _pending(state: dict[str, str]) -> dict[str, str]:
    if not state or _ms(clock.now()) >= int(state["expires_at"]):
        raise UserCodeNotFound("No request with this code; it may have expired.")
    if state["status"] != PENDING:
        raise UserCodeAlreadyDecided("This request was already approved or denied.")
    return state


def _request_out(state: dict[str, str], *, code: str) -> DeviceRequest:
    expires_at = datetime.fromtimestamp(int(state["expires_at"]) / 1000, tz=UTC)
    return DeviceRequest(
        user_code=display_user_code(code),
        client_id=state["client_id"],
        client_name=state["client_name"],
        scope=state["scope"].split(),
        status=state["status"],
        expires_at=expires_at,
        expires_in=max(0, int((expires_at - clock.now()).total_seconds())),
    )


# --- keys and time -------------------------------------------------------------------------------


def _text(raw: Mapping[Any, Any]) -> dict[str, str]:
    # The clients of core.redis decode responses; this only tells the type checker so.
    return {str(name): str(value) for name, value in raw.items()}


def _digest(device_code: str) -> str:
    # 256 random bits: a plain hash is enough.
    return hashlib.sha256(device_code.encode()).hexdigest()


def _request_key(digest: str) -> str:
    return f"device:dc:{digest}"


def _code_key(code: str) -> str:
    return "device:uc:" + get_keyring().blind_index(code, context="device-user-code")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(duration: timedelta) -> int:
    return duration // timedelta(milliseconds=1)


def _seconds(duration: timedelta) -> int:
    return duration // timedelta(seconds=1)
