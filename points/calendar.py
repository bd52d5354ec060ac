"""The programme's local calendar: cap periods, budget days and expiry dates are counted in
Asia/Shanghai (configurable), not UTC — a day starts at midnight in Wujiang."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.settings import get_settings
from points.errors import InvalidPointsQuery


def zone() -> ZoneInfo:
    return ZoneInfo(get_settings().points_timezone)


def local_date(at: datetime) -> date:
    return at.astimezone(zone()).date()


def periods(at: datetime) -> dict[str, str]:
    """The cap period keys `at` falls in: day, ISO week, month, year."""
    day = local_date(at)
    iso_year, iso_week, _ = day.isocalendar()
    return {
        "day": f"d{day.isoformat()}",
        "week": f"w{iso_year}-{iso_week:02d}",
        "month": f"m{day.year}-{day.month:02d}",
        "year": f"y{day.year}",
    }


def start_of_local_day(day: date) -> datetime:
    """Midnight at the start of `day`, local time, as UTC. InvalidPointsQuery for a day at
    the very edge of the calendar, whose midnight has no UTC instant (1 January of year 1 east
    of Greenwich): days come from requests, and no such day holds any points."""
    try:
        return datetime(day.year, day.month, day.day, tzinfo=zone()).astimezone(UTC)
    except OverflowError:
        raise _outside(day) from None


def end_of_local_day(day: date) -> datetime:
    """Midnight at the end of `day` (the start of the next), local time, as UTC; the same
    refusal at the other edge (31 December 9999 has no next day)."""
    if day == date.max:
        raise _outside(day)
    return start_of_local_day(day + timedelta(days=1))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The start and end of a local month, as UTC; ValueError for a month that does not
    exist."""
    first = date(year, month, 1)
    last = first.replace(day=monthrange(year, month)[1])
    return start_of_local_day(first), end_of_local_day(last)


def _outside(day: date) -> InvalidPointsQuery:
    return InvalidPointsQuery(f"{day.isoformat()} is outside the programme's calendar.")


def expiry_for(earned_at: datetime, policy: str | None = None) -> datetime:
    """When points earned at `earned_at` lapse under `policy` (default: the configured one).

    `end-of-next-year`: at the end of 31 December of the year after they were earned, local time.
    `days:N`: N days after they were earned."""
    policy = policy or get_settings().points_expiry_policy
    if policy == "end-of-next-year":
        year = local_date(earned_at).year
        return start_of_local_day(date(year + 2, 1, 1))
    if policy.startswith("days:"):
        return earned_at + timedelta(days=int(policy.removeprefix("days:")))
    raise ValueError(f"unknown points expiry policy {policy!r}")
