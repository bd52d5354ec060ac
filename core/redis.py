"""Redis client: the real server for `redis://`, an in-process stand-in for `memory://`."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from core.settings import get_settings


def make_redis(url: str) -> Redis:
    if url.startswith("memory://"):
        import fakeredis

        client: Any = fakeredis.FakeAsyncRedis(decode_responses=True)
        return client  # type: ignore[no-any-return]
    return Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5)


_redis: Redis | None = None


def get_redis() -> Redis:
    global _redis
    if _redis is None:
        _redis = make_redis(get_settings().redis_url)
    return _redis


def set_redis(client: Redis | None) -> None:
    global _redis
    _redis = client
