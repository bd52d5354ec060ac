"""Redis-backed rate limits for any edge or service: a sliding window per bucket.

Each bucket is a sorted set `rl:<bucket>` of the hits inside the window, scored by the time of the
hit in milliseconds. Bucket names end up in Redis keys (and so in dumps, replicas and `MONITOR`):
they must never contain raw personal data. Callers build them from a purpose and an opaque value,
for example `sign-in:phone:<blind index>` or `approve:ip:<sha256 of the address>`.

Time comes from `core.clock`, so tests move the clock instead of sleeping; the Redis TTL only
collects buckets nobody hits any more.
"""

from __future__ import annotations

import math
import secrets

from redis.asyncio import Redis

from core import clock
from core.errors import DomainError, members

KEY_PREFIX = "rl:"


class RateLimited(DomainError):
    """Too many requests in the window; `retry_after` is the wait in seconds until a slot frees."""

    type = "rate-limited"
    title = "Too many requests"
    status = 429
    example_extensions = members(retry_after=42)

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


async def hit(redis: Redis, *, bucket: str, limit: int, window_seconds: int) -> None:
    """Count one hit on `bucket`; raise `RateLimited` if that makes more than `limit` hits in the
    last `window_seconds`. Refused hits are not counted, so a client that waits `retry_after`
    gets through however hard it hammered before."""
    if limit < 1 or window_seconds < 1:
        raise ValueError("limit and window_seconds must be at least 1")
    if not bucket:
        raise ValueError("bucket must not be empty")
    key = KEY_PREFIX + bucket
    window_ms = window_seconds * 1000
    now_ms = int(clock.now().timestamp() * 1000)
    # Unique even for hits in the same millisecond, so each one is its own member.
    member = f"{now_ms}:{secrets.token_hex(6)}"
    # MULTI/EXEC makes trim, add and count one step: concurrent hits each see the others'.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now_ms - window_ms)
        pipe.zadd(key, {member: now_ms})
        pipe.zcard(key)
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.pexpire(key, window_ms)
        _, _, count, oldest, _ = await pipe.execute()
    if count <= limit:
        return
    await redis.zrem(key, member)
    # The oldest hit still in the window is the next to leave it and free a slot.
    oldest_ms = int(oldest[0][1]) if oldest else now_ms
    wait_ms = oldest_ms + window_ms - now_ms
    retry_after = min(window_seconds, max(1, math.ceil(wait_ms / 1000)))
    raise RateLimited(
        f"At most {limit} requests every {window_seconds} s; try again in {retry_after} s.",
        retry_after=retry_after,
    )
