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


def in_utc_range(value: datetime) -> datetime:
    """`value` unchanged if UTC can express it; ValueError if not. For validating the times
    clients send: `9999-12-31T23:59:59-14:00` is well-formed ISO 8601 but falls in year 10000
    once in UTC, which neither Python nor the database can hold."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time falls outside the years 1 to 9999 in UTC") from None
    return value


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
