"""The IVR (voice menu) of 12345: the caller's proof of identity, the short session it opens, and
the ready-to-speak Chinese sentences the call centre's text-to-speech reads out.

Speech is written for the ear: points as `1280分`, dates as `2027年12月31日` (Arabic digits,
which Chinese TTS reads naturally), one or two short sentences, nothing of the caller's that
they did not key in themselves (no name, no ID or card number beyond the last four digits
they typed).

An IVR session is a random token (`X-IVR-Session`) bound to the resident and card the caller
proved with. It lives in Redis under `hotline:ivr:<sha256 of the token>` (so a dump holds no
usable token) as JSON `{"resident_id", "card_id", "card_last4", "expires_at"}` and lasts
`SESSION_LIFE` from verification, never extended. The expiry is checked against `core.clock`
as well as the Redis TTL: the TTL collects the key, the stored time decides."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis

from citizen_card.errors import CardLocked, CardNotFound, CardNotUsable, PinNotSet, WrongPin
from core import clock
from core.errors import DomainError, members
from core.ratelimit import RateLimited
from core.settings import get_settings

SESSION_LIFE = timedelta(minutes=5)
TOKEN_BYTES = 32
_PREFIX = "hotline:ivr:"

# --- refusals --------------------------------------------------------------------------------


class IvrError(DomainError):
    type = "ivr-error"
    title = "The IVR request was refused"
    status = 400


class IvrVerificationFailed(IvrError):
    """The caller's number has no resident, or the resident no active card ending in the digits
    keyed in: one answer for both."""

    type = "ivr-verification-failed"
    title = "The caller could not be verified"
    status = 401
    example_extensions = members(speech="验证未通过，请核对市民卡卡号后四位后重新输入。")


class IvrSessionExpired(IvrError):
    """No IVR session under this token: never issued, expired, ended, or its card is no longer
    usable."""

    type = "ivr-session-expired"
    title = "The IVR session has ended"
    status = 401


# --- speech ----------------------------------------------------------------------------------

VERIFIED = "验证成功。"
VERIFICATION_FAILED = "验证未通过，请核对市民卡卡号后四位后重新输入。"
SESSION_EXPIRED = "验证已失效，请重新输入市民卡卡号后四位和密码。"
CARD_LOCKED = (
    "密码错误次数过多，您的市民卡已被锁定，请24小时后再试，或携带身份证到市民卡服务网点解锁。"
)
CARD_NOT_USABLE = "您的市民卡目前无法使用，如需帮助请转人工服务。"
PIN_NOT_SET = "您的市民卡尚未设置密码，请在智慧吴江App或市民卡服务网点设置后再试。"
TOO_MANY_TRIES = "尝试次数过多，请稍后再拨打。"
UNAVAILABLE = "抱歉，暂时无法办理，请转人工服务。"
NO_AWARD = "您目前还没有获得过积分。"
NOTHING_EXPIRING = "您近30天内没有即将到期的积分。"


def wrong_pin(attempts_left: int) -> str:
    """`密码错误，您还可以尝试2次。`"""
    return f"密码错误，您还可以尝试{max(attempts_left, 0)}次。"


def balance(points: int) -> str:
    """`您的积分余额为1280分。`"""
    return f"您的积分余额为{points}分。"


def latest_award(*, points: int, behaviour: str | None, at: datetime) -> str:
    """`您最近一次获得积分是在2026年11月25日，因「垃圾分类」获得20分。`"""
    reason = f"因「{_plain(behaviour)}」" if behaviour and _plain(behaviour) else ""
    return f"您最近一次获得积分是在{spoken_date(local_day(at))}，{reason}获得{points}分。"


def expiring(*, points: int, earliest_end: datetime) -> str:
    """`您有120分将在30天内到期，最早到期日为2027年12月31日，请尽快兑换使用。`: points lapse
    as `earliest_end` begins, so the last good day is the one before it."""
    last_day = local_day(earliest_end - timedelta(microseconds=1))
    return f"您有{points}分将在30天内到期，最早到期日为{spoken_date(last_day)}，请尽快兑换使用。"


def reported_lost(last4: str) -> str:
    """`您尾号1234的市民卡已挂失，立即生效。…`"""
    return (
        f"您尾号{last4}的市民卡已挂失，立即生效。"
        "请携带身份证到市民卡服务网点补办新卡，您的积分不受影响。"
    )


def refusal(error: DomainError) -> str:
    """What to say when a request is refused, by the refusal's problem type."""
    if isinstance(error, WrongPin):
        return wrong_pin(error.attempts_left)
    return _REFUSALS.get(error.type, UNAVAILABLE)


_REFUSALS = {
    IvrVerificationFailed.type: VERIFICATION_FAILED,
    IvrSessionExpired.type: SESSION_EXPIRED,
    CardLocked.type: CARD_LOCKED,
    CardNotUsable.type: CARD_NOT_USABLE,
    CardNotFound.type: CARD_NOT_USABLE,
    PinNotSet.type: PIN_NOT_SET,
    RateLimited.type: TOO_MANY_TRIES,
}


def spoken_date(day: date) -> str:
    """`2027年12月31日`: no leading zeros, as it is said."""
    return f"{day.year}年{day.month}月{day.day}日"


def local_day(at: datetime) -> date:
    """The district's local date of an instant."""
    return at.astimezone(ZoneInfo(get_settings().points_timezone)).date()


def _plain(text: str) -> str:
    # Behaviour titles come from the published list; keep only what TTS can read.
    return "".join(ch for ch in text if ch.isprintable() and ch not in "「」").strip()


# --- sessions --------------------------------------------------------------------------------


class IvrSession(BaseModel):
    """Who proved themselves on this call, with which card, and until when (unix seconds)."""

    model_config = ConfigDict(frozen=True)

    resident_id: uuid.UUID
    card_id: uuid.UUID
    card_last4: str
    expires_at: int

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)


async def start(
    redis: Redis, *, resident_id: uuid.UUID, card_id: uuid.UUID, card_last4: str
) -> tuple[str, IvrSession]:
    """A new IVR session and its token (returned here only)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    life = int(SESSION_LIFE.total_seconds())
    started = IvrSession(
        resident_id=resident_id,
        card_id=card_id,
        card_last4=card_last4,
        expires_at=math.floor(clock.now().timestamp()) + life,
    )
    await redis.set(_key(token), started.model_dump_json(), ex=life)
    return token, started


async def use(redis: Redis, *, token: str) -> IvrSession:
    """The live session under `token`; IvrSessionExpired for anything else."""
    raw = await redis.get(_key(token)) if token else None
    current = _parse(raw)
    if current is None or clock.now().timestamp() >= current.expires_at:
        raise IvrSessionExpired("Verify the caller again: the IVR session has ended.")
    return current


async def end(redis: Redis, *, token: str) -> None:
    await redis.delete(_key(token))


def _parse(raw: str | bytes | None) -> IvrSession | None:
    if raw is None:
        return None
    try:
        return IvrSession.model_validate_json(raw)
    except ValidationError:
        return None


def _key(token: str) -> str:
    return _PREFIX + hashlib.sha256(token.encode()).hexdigest()
