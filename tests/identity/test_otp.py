"""SMS one-time codes: what is sent and stored, expiry, the resend rule, the wrong-try lock,
single use, and races (parallel verifications, parallel guesses, parallel sends)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from core import clock
from identity.errors import (
    CodeExpired,
    ResendTooSoon,
    SmsUnavailable,
    TooManyAttempts,
    WrongCode,
)
from identity.otp import CodeSent, send_code, verify_code

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
PHONE = "13812345678"
KEY = "b1e55ed0c0ffee"  # stands for the phone's blind index
SIGN_IN = "sign-in"


class FakeSms:
    """Captures texts instead of sending them; can be told to fail like a gateway outage."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failing = False

    async def send(self, *, phone: str, text: str) -> None:
        if self.failing:
            raise SmsUnavailable("gateway down")
        self.sent.append((phone, text))

    @property
    def last_code(self) -> str:
        match = re.search(r"\b(\d{6})\b", self.sent[-1][1])
        assert match, self.sent[-1][1]
        return match[1]


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with clock.frozen(T0):
        yield


async def _send(redis: Redis, sms: FakeSms, *, purpose: str = SIGN_IN) -> str:
    await send_code(redis, sms, key=KEY, phone=PHONE, purpose=purpose)
    return sms.last_code


def _another(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_sends_a_six_digit_code_in_chinese_and_says_when_it_expires(
    redis: Redis, sms: FakeSms
) -> None:
    sent = await send_code(redis, sms, key=KEY, phone=PHONE, purpose=SIGN_IN)

    [(phone, text)] = sms.sent
    assert phone == PHONE
    assert re.fullmatch(r"【智慧吴江】验证码 \d{6}，5分钟内有效，请勿告诉他人。", text)
    assert sent == CodeSent(
        expires_at=T0 + timedelta(minutes=5),
        resend_at=T0 + timedelta(seconds=60),
        expires_in=300,
        resend_after=60,
    )
    assert sms.last_code not in repr(sent)


async def test_sends_in_english_on_request(redis: Redis, sms: FakeSms) -> None:
    await send_code(redis, sms, key=KEY, phone=PHONE, purpose=SIGN_IN, language="en")

    assert sms.sent[0][1].startswith("[Smart Wujiang] Your verification code is ")
    assert "valid for 5 minutes" in sms.sent[0][1]


async def test_redis_holds_neither_the_code_nor_the_phone(redis: Redis, sms: FakeSms) -> None:
    code = await _send(redis, sms)

    keys = sorted(await redis.keys("*"))
    assert keys == [f"otp-sent:{SIGN_IN}:{KEY}", f"otp:{SIGN_IN}:{KEY}"]
    stored = json.dumps([await redis.hgetall(keys[1]), await redis.get(keys[0])])
    assert code not in stored
    assert PHONE not in stored
    assert 0 < await redis.pttl(keys[1]) <= 300_000


async def test_right_code_is_accepted_once_only(redis: Redis, sms: FakeSms) -> None:
    code = await _send(redis, sms)

    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)

    with pytest.raises(CodeExpired):
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)


async def test_code_expires_after_five_minutes(redis: Redis, sms: FakeSms) -> None:
    code = await _send(redis, sms)
    clock.advance(timedelta(minutes=5))

    with pytest.raises(CodeExpired) as refused:
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)
    assert refused.value.status == 400
    assert refused.value.type_uri().endswith(":otp-expired")


async def test_code_still_works_just_before_it_expires(redis: Redis, sms: FakeSms) -> None:
    code = await _send(redis, sms)
    clock.advance(timedelta(minutes=5) - timedelta(milliseconds=1))

    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)


async def test_no_code_sent_is_expired(redis: Redis) -> None:
    with pytest.raises(CodeExpired):
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code="123456")


async def test_resend_within_a_minute_is_refused_with_the_wait(redis: Redis, sms: FakeSms) -> None:
    first = await _send(redis, sms)
    clock.advance(timedelta(seconds=45, milliseconds=200))

    with pytest.raises(ResendTooSoon) as refused:
        await _send(redis, sms)

    assert refused.value.status == 429
    assert refused.value.retry_after == 15  # 14.8 s, rounded up
    assert refused.value.headers() == {"Retry-After": "15"}
    assert len(sms.sent) == 1

    clock.advance(timedelta(seconds=14, milliseconds=800))
    second = await _send(redis, sms)
    assert len(sms.sent) == 2
    if second != first:  # one in a million they are equal
        # The new code replaces the old one.
        with pytest.raises(WrongCode):
            await verify_code(redis, key=KEY, purpose=SIGN_IN, code=first)
    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=second)


async def test_resend_rule_holds_after_a_successful_sign_in(redis: Redis, sms: FakeSms) -> None:
    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=await _send(redis, sms))

    with pytest.raises(ResendTooSoon):
        await _send(redis, sms)


async def test_five_wrong_tries_burn_the_code_until_a_new_one_is_sent(
    redis: Redis, sms: FakeSms
) -> None:
    code = await _send(redis, sms)
    clock.advance(timedelta(seconds=20))

    for attempts_left in [4, 3, 2, 1, 0]:
        with pytest.raises(WrongCode) as wrong:
            await verify_code(redis, key=KEY, purpose=SIGN_IN, code=_another(code))
        assert wrong.value.attempts_left == attempts_left
        assert wrong.value.extensions == {"attempts_left": attempts_left}
        assert wrong.value.status == 400

    with pytest.raises(TooManyAttempts) as locked:
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)  # even the right one
    assert locked.value.status == 429
    assert locked.value.type_uri().endswith(":otp-locked")
    assert locked.value.retry_after == 40  # a new code may be asked for a minute after the last

    with pytest.raises(ResendTooSoon):
        await _send(redis, sms)
    clock.advance(timedelta(seconds=40))
    new_code = await _send(redis, sms)
    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=new_code)


async def test_malformed_guesses_count_as_wrong(redis: Redis, sms: FakeSms) -> None:
    await _send(redis, sms)

    for guess in ["", "12345", "1234567", "abcdef", " 12345"]:
        with pytest.raises(WrongCode):
            await verify_code(redis, key=KEY, purpose=SIGN_IN, code=guess)
    with pytest.raises(TooManyAttempts):
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code=sms.last_code)


async def test_purposes_and_keys_are_separate(redis: Redis, sms: FakeSms) -> None:
    code = await _send(redis, sms)

    with pytest.raises(CodeExpired):
        await verify_code(redis, key=KEY, purpose="pin-reset", code=code)
    with pytest.raises(CodeExpired):
        await verify_code(redis, key="another-key", purpose=SIGN_IN, code=code)
    await _send(redis, sms, purpose="pin-reset")  # the resend rule is per purpose too
    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)


async def test_a_failed_text_can_be_retried_at_once(redis: Redis, sms: FakeSms) -> None:
    sms.failing = True
    with pytest.raises(SmsUnavailable):
        await _send(redis, sms)
    assert await redis.keys("*") == []

    sms.failing = False
    code = await _send(redis, sms)
    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)


async def test_concurrent_verifications_of_the_right_code_succeed_once(
    redis: Redis, sms: FakeSms
) -> None:
    code = await _send(redis, sms)

    results = await asyncio.gather(
        *(verify_code(redis, key=KEY, purpose=SIGN_IN, code=code) for _ in range(10)),
        return_exceptions=True,
    )

    assert sum(result is None for result in results) == 1
    assert all(isinstance(result, CodeExpired) for result in results if result is not None)


async def test_concurrent_guesses_get_five_tries_in_all(redis: Redis, sms: FakeSms) -> None:
    code = await _send(redis, sms)
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code][:15]

    results = await asyncio.gather(
        *(verify_code(redis, key=KEY, purpose=SIGN_IN, code=guess) for guess in guesses),
        return_exceptions=True,
    )

    wrong = [result for result in results if isinstance(result, WrongCode)]
    assert len(wrong) == 5
    assert sorted(error.attempts_left for error in wrong) == [0, 1, 2, 3, 4]
    assert sum(isinstance(result, TooManyAttempts) for result in results) == 10
    with pytest.raises(TooManyAttempts):
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)


async def test_concurrent_sends_text_once(redis: Redis, sms: FakeSms) -> None:
    results = await asyncio.gather(
        *(send_code(redis, sms, key=KEY, phone=PHONE, purpose=SIGN_IN) for _ in range(5)),
        return_exceptions=True,
    )

    assert sum(isinstance(result, CodeSent) for result in results) == 1
    assert sum(isinstance(result, ResendTooSoon) for result in results) == 4
    assert len(sms.sent) == 1
    await verify_code(redis, key=KEY, purpose=SIGN_IN, code=sms.last_code)


@pytest.mark.parametrize(
    ("key", "purpose"), [("", SIGN_IN), ("has space", SIGN_IN), (KEY, "Sign In"), (KEY, "")]
)
async def test_malformed_keys_and_purposes_are_refused(
    redis: Redis, sms: FakeSms, key: str, purpose: str
) -> None:
    with pytest.raises(ValueError, match=r"key|purpose"):
        await send_code(redis, sms, key=key, phone=PHONE, purpose=purpose)
    with pytest.raises(ValueError, match=r"key|purpose"):
        await verify_code(redis, key=key, purpose=purpose, code="123456")


async def test_logs_carry_neither_code_nor_phone(redis: Redis, sms: FakeSms) -> None:
    with capture_logs() as logs:
        code = await _send(redis, sms)
        with pytest.raises(WrongCode):
            await verify_code(redis, key=KEY, purpose=SIGN_IN, code=_another(code))
        await verify_code(redis, key=KEY, purpose=SIGN_IN, code=code)

    assert [log["event"] for log in logs] == ["otp.sent", "otp.verified"]
    rendered = json.dumps(logs, ensure_ascii=False, default=str)
    assert code not in rendered
    assert PHONE not in rendered
