"""When to try a failed delivery again: exponential backoff with full jitter, never sooner than
the provider's `Retry-After`, never later than the cap."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from core.settings import Settings


def next_attempt_at(
    now: datetime,
    *,
    attempts: int,
    settings: Settings,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The time of the next try after `attempts` failed ones (1 after the first failure).

    The delay doubles with each attempt from `notify_backoff_base_seconds`, capped at
    `notify_backoff_cap_seconds`, and is drawn uniformly from its upper half, so workers that
    failed together do not retry together. A `Retry-After` longer than that wins (capped too)."""
    ceiling = settings.notify_backoff_cap_seconds
    exponential = min(ceiling, settings.notify_backoff_base_seconds * 2 ** max(attempts - 1, 0))
    delay = (rng or _rng).uniform(exponential / 2, exponential)
    if retry_after is not None and retry_after > delay:
        delay = min(retry_after, ceiling)
    return now + timedelta(seconds=delay)


_rng = random.SystemRandom()
