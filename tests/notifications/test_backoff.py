"""Retry timing: exponential, jittered, capped, and never sooner than Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from core.settings import Settings
from notifications.backoff import next_attempt_at

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)


def delay(settings: Settings, attempts: int, *, retry_after: float | None = None, seed: int = 1):
    at = next_attempt_at(
        NOW,
        attempts=attempts,
        settings=settings,
        retry_after=retry_after,
        rng=random.Random(seed),
    )
    return (at - NOW).total_seconds()


def test_delays_double_within_their_jitter_band(settings: Settings) -> None:
    base = settings.notify_backoff_base_seconds
    for attempts in range(1, 6):
        ceiling = base * 2 ** (attempts - 1)
        seen = [delay(settings, attempts, seed=seed) for seed in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in seen)
        assert len(set(seen)) > 40  # jitter: workers that failed together spread out


def test_delays_stop_growing_at_the_cap(settings: Settings) -> None:
    cap = settings.notify_backoff_cap_seconds
    assert all(cap / 2 <= delay(settings, 40, seed=s) <= cap for s in range(20))


def test_retry_after_is_honoured_when_longer(settings: Settings) -> None:
    assert delay(settings, 1, retry_after=600) == 600
    assert delay(settings, 1, retry_after=0.5) < settings.notify_backoff_base_seconds + 1
    assert delay(settings, 1, retry_after=10**9) == settings.notify_backoff_cap_seconds


def test_next_attempt_is_in_the_future(settings: Settings) -> None:
    assert next_attempt_at(NOW, attempts=0, settings=settings) > NOW
    assert next_attempt_at(NOW, attempts=1, settings=settings) - NOW >= timedelta(seconds=1)
