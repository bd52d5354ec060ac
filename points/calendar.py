"""The programme's local calendar: cap periods, budget days and expiry dates are counted in
Asia/Shanghai (configurable), not UTC — a day starts at midnight in Wujiang."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.settings import get_settings


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
    """Midnight at the start of `day`, local time, as UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=zone()).astimezone(UTC)


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
