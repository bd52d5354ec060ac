"""Residents' notification preferences: which channels each group of notices goes out on, and
quiet hours (local time) during which non-urgent notices wait.

A resident without a row has the defaults (notifications.topics.DEFAULT_CHANNELS and the
configured quiet hours). A row keeps only the channels the resident chose, so the groups they
never touched follow the defaults as those change. Security notices cannot be switched off."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import upsert
from core.settings import get_settings
from notifications.errors import PreferenceLocked
from notifications.models import Preference
from notifications.schemas import (
    CLOCK_PATTERN,
    GroupChannels,
    PreferencesIn,
    PreferencesOut,
    QuietHoursOut,
)
from notifications.topics import DEFAULT_CHANNELS, LOCKED_GROUPS, Channel, Group

preference_t = Preference.__table__  # type: ignore[attr-defined]
_CLOCK = re.compile(CLOCK_PATTERN)


@dataclass(frozen=True)
class Resolved:
    """One resident's preferences with the defaults filled in: what the worker asks."""

    channels: Mapping[Group, Mapping[Channel, bool]]
    quiet_start: str  # local "HH:MM"
    quiet_end: str

    def wants(self, group: Group, channel: Channel) -> bool:
        """Whether notices of `group` go out on `channel`; security ones always do."""
        if group in LOCKED_GROUPS:
            return True
        return self.channels[group][channel]

    def quiet_until(self, at: datetime) -> datetime | None:
        """If `at` falls in the quiet hours (local time, [start, end)), when they end (UTC)."""
        start, end = parse_clock(self.quiet_start), parse_clock(self.quiet_end)
        if start == end:
            return None
        local = at.astimezone(_zone())
        now = local.time().replace(tzinfo=None)
        if start < end:  # within one day, e.g. 13:00–14:00
            ends_on = local.date() if start <= now < end else None
        elif now >= start:  # crosses midnight (22:00–08:00), evening part
            ends_on = local.date() + timedelta(days=1)
        elif now < end:  # crosses midnight, morning part
            ends_on = local.date()
        else:
            ends_on = None
        if ends_on is None:
            return None
        return datetime.combine(ends_on, end, tzinfo=_zone()).astimezone(UTC)


async def get(session: AsyncSession, *, resident_id: uuid.UUID) -> PreferencesOut:
    """The resident's preferences, every group with both channels; defaults when never set."""
    return _out((await for_residents(session, [resident_id]))[resident_id])


async def update(
    session: AsyncSession, *, resident_id: uuid.UUID, change: PreferencesIn
) -> PreferencesOut:
    """Change only the groups, channels and quiet hours given; the rest stays as it was."""
    for group, channels in change.groups.items():
        if group in LOCKED_GROUPS and not all(channels.values()):
            raise PreferenceLocked(
                f"{group.value} notices cannot be switched off.", group=group.value
            )
    row = await _locked_row(session, resident_id)
    chosen: dict[str, dict[str, bool]] = {g: dict(c) for g, c in row.channels.items()}
    for group, channels in change.groups.items():
        if group not in LOCKED_GROUPS:
            chosen.setdefault(group.value, {}).update({c.value: on for c, on in channels.items()})
    quiet = change.quiet_hours
    await session.execute(
        sa.update(preference_t)
        .where(preference_t.c.resident_id == resident_id)
        .values(
            channels=chosen,
            quiet_start=quiet.start if quiet else row.quiet_start,
            quiet_end=quiet.end if quiet else row.quiet_end,
            updated_at=clock.now(),
        )
    )
    return await get(session, resident_id=resident_id)


async def for_residents(
    session: AsyncSession, resident_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Resolved]:
    """The resolved preferences of each of these residents (the worker's fan-out)."""
    rows: dict[uuid.UUID, Any] = {}
    if resident_ids:
        found = await session.execute(
            sa.select(preference_t).where(preference_t.c.resident_id.in_(list(resident_ids)))
        )
        rows = {row.resident_id: row for row in found}
    return {resident_id: _resolve(rows.get(resident_id)) for resident_id in resident_ids}


def parse_clock(value: str) -> time:
    """`HH:MM` (00:00–23:59) as a time of day."""
    if not _CLOCK.fullmatch(value):
        raise ValueError(f"not a HH:MM time of day: {value!r}")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _resolve(row: Any | None) -> Resolved:
    settings = get_settings()
    stored: Mapping[str, Mapping[str, bool]] = row.channels if row is not None else {}
    channels = {
        group: {
            channel: bool(stored.get(group.value, {}).get(channel.value, default))
            for channel, default in defaults.items()
        }
        for group, defaults in DEFAULT_CHANNELS.items()
    }
    for group in LOCKED_GROUPS:
        channels[group] = dict.fromkeys(Channel, True)
    if row is None:
        return Resolved(channels, settings.notify_quiet_start, settings.notify_quiet_end)
    return Resolved(channels, row.quiet_start, row.quiet_end)


async def _locked_row(session: AsyncSession, resident_id: uuid.UUID) -> Any:
    """The resident's row, created with the defaults if missing, locked until the transaction
    ends: two changes at once apply one after the other, neither lost."""
    settings = get_settings()
    await session.execute(
        upsert(session, preference_t).on_conflict_do_nothing(),
        [
            {
                "resident_id": resident_id,
                "channels": {},
                "quiet_start": settings.notify_quiet_start,
                "quiet_end": settings.notify_quiet_end,
                "updated_at": clock.now(),
            }
        ],
    )
    query = sa.select(preference_t).where(preference_t.c.resident_id == resident_id)
    return (await session.execute(query.with_for_update())).one()


def _out(resolved: Resolved) -> PreferencesOut:
    return PreferencesOut(
        groups={
            group: GroupChannels(
                push=channels[Channel.PUSH],
                sms=channels[Channel.SMS],
                locked=group in LOCKED_GROUPS,
            )
            for group, channels in resolved.channels.items()
        },
        quiet_hours=QuietHoursOut(
            start=resolved.quiet_start, end=resolved.quiet_end, timezone=_zone().key
        ),
    )


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().points_timezone)
