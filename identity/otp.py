"""SMS one-time codes: 6 digits, valid 5 minutes, 5 wrong tries, one send a minute.

A code is kept in Redis for a purpose (`"sign-in"`, `"pin-reset"`, ...) and a caller-provided
opaque key: the phone's blind index, never the phone itself, since keys show in dumps and
`MONITOR`. Only a keyed hash of the code is stored (HMAC under the blind-index key, bound to
purpose and key), so a copy of Redis does not give the codes away.

Deadlines are stored as timestamps from `core.clock` and checked here; the Redis TTLs only clean
up. So tests move the clock instead of sleeping, and a clock frozen in the past cannot make Redis
drop a code early.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from redis.asyncio import Redis
from redis.exceptions import WatchError

from core import clock
from core.settings import get_keyring
from identity.errors import (
    CodeExpired,
    ResendTooSoon,
    SmsUnavailable,
    TooManyAttempts,
    WrongCode,
)
from identity.sms import SmsSender

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
RESEND_AFTER = timedelta(seconds=60)
MAX_WRONG_ATTEMPTS = 5
# Every retry follows another verification's committed change to the same code (a wrong try,
# the success that deletes it, or a new code), and there are at most a handful of those.
_MAX_TRANSACTION_RETRIES = 20

Language = Literal["zh", "en"]
_TEXTS: dict[Language, str] = {
    "zh": "【智慧吴江】验证码 {code}，{minutes}分钟内有效，请勿告诉他人。",
    "en": (
        "[Smart Wujiang] Your verification code is {code}. It is valid for {minutes} minutes. "
        "Do not share it with anyone."
    ),
}
_PURPOSE = re.compile(r"[a-z][a-z0-9-]{0,31}")

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CodeSent:
    """When the code just sent stops working, and when another may be asked for (as moments
    and as seconds from now, for clients)."""

    expires_at: datetime
    resend_at: datetime
    expires_in: int
    resend_after: int


async def send_code(
    redis: Redis,
    sms: SmsSender,
    *,
    key: str,
    phone: str,
    purpose: str,
    language: Language = "zh",
) -> CodeSent:
    """Text a fresh code to `phone`, replacing any pending one for `key` and `purpose`; refuse
    with `ResendTooSoon` within a minute of the previous one."""
    code_key, sent_key = _keys(key, purpose)
    now = clock.now()
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    async with redis.pipeline(transaction=True) as pipe:
        # WATCH makes check-then-set atomic: of two concurrent sends, one gets ResendTooSoon.
        await pipe.watch(sent_key)
        last_sent = await pipe.get(sent_key)
        if last_sent is not None:
            wait = _ms(now) - int(last_sent) - _ms_of(RESEND_AFTER)
            if wait < 0:
                raise _resend_too_soon(-wait)
        pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        pipe.set(sent_key, _ms(now), px=_ms_of(RESEND_AFTER))
        pipe.delete(code_key)
        pipe.hset(
            code_key,
            mapping={
                "digest": _digest(code, key=key, purpose=purpose),
                "expires_at": _ms(now + CODE_TTL),
                "sent_at": _ms(now),
                "wrong": 0,
            },
        )
        pipe.pexpire(code_key, _ms_of(CODE_TTL))
        try:
            await pipe.execute()
        except WatchError:
            raise _resend_too_soon(_ms_of(RESEND_AFTER)) from None
    text = _TEXTS[language].format(code=code, minutes=CODE_TTL // timedelta(minutes=1))
    try:
        await sms.send(phone=phone, text=text)
    except SmsUnavailable:
        # Nothing reached the phone: let the resident ask again at once, not in a minute.
        await redis.delete(code_key, sent_key)
        raise
    log.info("otp.sent", purpose=purpose)
    return CodeSent(
        expires_at=now + CODE_TTL,
        resend_at=now + RESEND_AFTER,
        expires_in=CODE_TTL // timedelta(seconds=1),
        resend_after=RESEND_AFTER // timedelta(seconds=1),
    )


async def verify_code(redis: Redis, *, key: str, purpose: str, code: str) -> None:
    """Accept `code` once for `key` and `purpose`, or raise `CodeExpired`, `WrongCode` or, after
    5 wrong tries, `TooManyAttempts` until a new code is sent."""
    code_key, _ = _keys(key, purpose)
    for _ in range(_MAX_TRANSACTION_RETRIES):
        async with redis.pipeline(transaction=True) as pipe:
            # Each verdict commits only if nothing changed the code since it was read: parallel
            # guesses cannot all see "4 tries left", and a right code is accepted only once.
            await pipe.watch(code_key)
            stored = await pipe.hgetall(code_key)
            now = clock.now()
            if not stored or _ms(now) >= int(stored["expires_at"]):
                raise CodeExpired("No code is pending: ask for a new one.")
            wrong = int(stored["wrong"])
            if wrong >= MAX_WRONG_ATTEMPTS:
                raise _locked(now, sent_at_ms=int(stored["sent_at"]))
            # The clients of core.redis decode responses: values are str.
            expected = str(stored["digest"])
            right = hmac.compare_digest(expected, _digest(code, key=key, purpose=purpose))
            pipe.multi()  # type: ignore[no-untyped-call]
            if right:
                pipe.delete(code_key)
            else:
                pipe.hincrby(code_key, "wrong", 1)
                if wrong + 1 >= MAX_WRONG_ATTEMPTS:
                    pipe.hset(code_key, "digest", "")  # burned: no later guess can match
            try:
                await pipe.execute()
            except WatchError:
                continue
        if right:
            log.info("otp.verified", purpose=purpose)
            return
        attempts_left = MAX_WRONG_ATTEMPTS - wrong - 1
        if not attempts_left:
            log.warning("otp.locked", purpose=purpose)
        raise WrongCode("The code is not correct.", attempts_left=attempts_left)
    raise RuntimeError("verify_code: the code kept changing under contention")


def _keys(key: str, purpose: str) -> tuple[str, str]:
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"invalid purpose {purpose!r}")
    if not key or any(character.isspace() for character in key):
        raise ValueError("key must be a non-empty opaque string without spaces")
    return f"otp:{purpose}:{key}", f"otp-sent:{purpose}:{key}"


def _digest(code: str, *, key: str, purpose: str) -> str:
    # Keyed: six digits are a million guesses away from any unkeyed hash.
    return get_keyring().blind_index(code, context=f"otp:{purpose}:{key}")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _ms_of(duration: timedelta) -> int:
    return duration // timedelta(milliseconds=1)


def _resend_too_soon(wait_ms: int) -> ResendTooSoon:
    retry_after = max(1, math.ceil(wait_ms / 1000))
    return ResendTooSoon(
        f"A code was sent moments ago; ask again in {retry_after} s.", retry_after=retry_after
    )


def _locked(now: datetime, *, sent_at_ms: int) -> TooManyAttempts:
    # The way out is a new code, which the resend rule allows a minute after the last one.
    wait_ms = sent_at_ms + _ms_of(RESEND_AFTER) - _ms(now)
    retry_after = max(1, math.ceil(wait_ms / 1000))
    return TooManyAttempts(
        "Too many wrong codes: this one no longer works; ask for a new one.",
        retry_after=retry_after,
    )
