"""The one source of time. Tests freeze or move it; production reads the system clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze `now()` at `at` for the duration of the block."""
    global _frozen
    previous = _frozen
    _frozen = as_utc(at)
    try:
        yield
    finally:
        _frozen = previous


def advance(by: timedelta) -> None:
    """Move a frozen clock forward."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("the clock is not frozen")
    _frozen = _frozen + by


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
