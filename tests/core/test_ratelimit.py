"""The Redis rate limiter: counts, the sliding window on `core.clock`, concurrency, the key
namespace, and how a refusal leaves over HTTP (429 problem+json with `Retry-After`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from core import clock
from core.errors import DomainError
from core.ratelimit import RateLimited, hit
from tests.helpers import problem_of

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    with clock.frozen(T0):
        yield


@pytest.mark.usefixtures("frozen_clock")
async def test_limit_hits_pass_and_the_next_is_refused_for_the_whole_window(redis: Redis) -> None:
    for _ in range(3):
        await hit(redis, bucket="test:a", limit=3, window_seconds=60)

    with pytest.raises(RateLimited) as refused:
        await hit(redis, bucket="test:a", limit=3, window_seconds=60)

    assert refused.value.retry_after == 60
    assert refused.value.extensions == {"retry_after": 60}
    assert refused.value.status == 429
    assert refused.value.type_uri().endswith(":rate-limited")


@pytest.mark.usefixtures("frozen_clock")
async def test_retry_after_is_the_time_until_the_oldest_hit_leaves_the_window(
    redis: Redis,
) -> None:
    await hit(redis, bucket="test:a", limit=2, window_seconds=60)
    clock.advance(timedelta(seconds=30))
    await hit(redis, bucket="test:a", limit=2, window_seconds=60)
    clock.advance(timedelta(seconds=10, milliseconds=500))

    with pytest.raises(RateLimited) as refused:
        await hit(redis, bucket="test:a", limit=2, window_seconds=60)
    assert refused.value.retry_after == 20  # 19.5 s, rounded up: never retry a moment too early

    clock.advance(timedelta(seconds=19, milliseconds=500))
    await hit(redis, bucket="test:a", limit=2, window_seconds=60)  # the first hit has left
    with pytest.raises(RateLimited) as refused:
        await hit(redis, bucket="test:a", limit=2, window_seconds=60)
    assert 0 < refused.value.retry_after <= 60


@pytest.mark.usefixtures("frozen_clock")
async def test_refused_hits_are_not_counted(redis: Redis) -> None:
    await hit(redis, bucket="test:a", limit=1, window_seconds=10)
    for _ in range(20):
        with pytest.raises(RateLimited):
            await hit(redis, bucket="test:a", limit=1, window_seconds=10)

    clock.advance(timedelta(seconds=10))
    await hit(redis, bucket="test:a", limit=1, window_seconds=10)


@pytest.mark.usefixtures("frozen_clock")
async def test_buckets_are_independent_and_namespaced(redis: Redis) -> None:
    await hit(redis, bucket="sign-in:ip:abc", limit=1, window_seconds=60)
    await hit(redis, bucket="sign-in:ip:def", limit=1, window_seconds=60)

    assert sorted(await redis.keys("*")) == ["rl:sign-in:ip:abc", "rl:sign-in:ip:def"]
    ttl = await redis.pttl("rl:sign-in:ip:abc")
    assert 0 < ttl <= 60_000  # buckets nobody hits any more disappear


@pytest.mark.usefixtures("frozen_clock")
async def test_concurrent_hits_never_exceed_the_limit(redis: Redis) -> None:
    results = await asyncio.gather(
        *(hit(redis, bucket="test:race", limit=5, window_seconds=60) for _ in range(30)),
        return_exceptions=True,
    )

    assert sum(result is None for result in results) == 5
    assert all(isinstance(result, RateLimited) for result in results if result is not None)


async def test_window_follows_the_real_clock_when_not_frozen(redis: Redis) -> None:
    await hit(redis, bucket="test:real", limit=1, window_seconds=1)
    with pytest.raises(RateLimited) as refused:
        await hit(redis, bucket="test:real", limit=1, window_seconds=1)
    assert refused.value.retry_after == 1


@pytest.mark.parametrize(
    ("bucket", "limit", "window_seconds"), [("", 1, 1), ("x", 0, 1), ("x", 1, 0)]
)
async def test_nonsense_arguments_are_refused(
    redis: Redis, bucket: str, limit: int, window_seconds: int
) -> None:
    with pytest.raises(ValueError, match="must"):
        await hit(redis, bucket=bucket, limit=limit, window_seconds=window_seconds)


def test_retry_after_extension_becomes_a_header_and_nothing_else_does() -> None:
    assert RateLimited("slow down", retry_after=7).headers() == {"Retry-After": "7"}
    assert DomainError("no", balance=3).headers() == {}
    assert DomainError("no", retry_after=True).headers() == {}
    assert DomainError("no", retry_after="soon").headers() == {}


@pytest.mark.usefixtures("frozen_clock")
async def test_refusal_renders_as_429_problem_with_retry_after(
    app: FastAPI, client: httpx.AsyncClient, redis: Redis
) -> None:
    @app.post("/test/limited")
    async def limited() -> dict[str, bool]:
        await hit(redis, bucket="test:http", limit=2, window_seconds=30)
        return {"ok": True}

    for _ in range(2):
        response = await client.post("/test/limited")
        assert response.status_code == 200
        assert "retry-after" not in response.headers

    response = await client.post("/test/limited")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    body = problem_of(response)
    assert body["type"] == "urn:wujiang:problem:rate-limited"
    assert body["retry_after"] == 30
    assert body["instance"] == "/test/limited"
