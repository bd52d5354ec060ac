"""Redis client: the real server for `redis://`, an in-process stand-in for `memory://`."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from core.settings import get_settings


def make_redis(url: str, *, max_connections: int = 256) -> Redis:
    """A client for `url`. Past `max_connections` busy connections a command waits (up to 5 s)
    for one to come free, rather than fail: a burst of requests queues instead of erroring."""
    if url.startswith("memory://"):
        import fakeredis

        client: Any = fakeredis.FakeAsyncRedis(decode_responses=True)
        return client  # type: ignore[no-any-return]
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=5,
        max_connections=max_connections,
        timeout=5,
    )
    return Redis(connection_pool=pool)


_redis: Redis | None = None


def get_redis() -> Redis:
    global _redis
    if _redis is None:
        settings = get_settings()
        _redis = make_redis(settings.redis_url, max_connections=settings.redis_max_connections)
    return _redis


def set_redis(client: Redis | None) -> None:
    global _redis
    _redis = client
