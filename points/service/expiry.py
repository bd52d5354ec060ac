"""Expiry of residents' points and the reminders before it.

The policy (when earned points lapse) is `points.calendar.expiry_for`, applied by the award
service when it opens each lot. Here: the sweep that posts what has lapsed (through
`ledger.expire`, which expires every lot exactly once), a `points.expired` notice per wallet
swept, and `points.expiring` reminders ahead of time, one per resident and expiry date."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

import ledger
from core import clock
from notifications import outbox
from points import calendar
from points.repository import expiry as repository
from points.schemas.expiry import ExpirySweep, ReminderRun

log = structlog.get_logger(__name__)

EXPIRED_TOPIC = "points.expired"
EXPIRING_TOPIC = "points.expiring"


async def count_lapsed_wallets(session: AsyncSession, *, now: datetime | None = None) -> int:
    """How many wallets a sweep at `now` would touch (for a progress bar)."""
    return await repository.count_lapsed_wallets(session, clock.as_utc(now or clock.now()))


async def expire_points(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> ExpirySweep:
    """Sweep up to `limit` wallets' lapsed points and queue a `points.expired` notice for each.

    Give each call a transaction of its own (the ledger locks the wallets it sweeps); call again
    until it sweeps no wallet. Running it twice moves nothing the second time."""
    now = clock.as_utc(now or clock.now())
    after = await repository.last_entry_seq(session)
    result = await ledger.expire(session, now=now, limit=limit)
    if result.entries == 0:
        return ExpirySweep()
    lapses = await repository.expiries_since(session, after)
    categories = await _by_category(session, [row.entry_id for row in lapses])
    await outbox.enqueue_many(session, [_expired_notice(row, categories) for row in lapses])
    log.info("points.expired", wallets=result.entries, points=result.amount)
    return ExpirySweep(residents=len(lapses), points=sum(row.points for row in lapses))


async def _by_category(
    session: AsyncSession, entry_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    split: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for row in await repository.consumed_by_category(session, entry_ids):
        category = row.category or "other"
        split[row.entry_id][category] = split[row.entry_id].get(category, 0) + int(row.points)
    return split


def _expired_notice(row: Any, categories: dict[uuid.UUID, dict[str, int]]) -> dict[str, Any]:
    return outbox.message(
        topic=EXPIRED_TOPIC,
        resident_id=_resident_of(row.code),
        payload={
            "points": int(row.points),
            "by_category": categories.get(row.entry_id, {}),
            "expired_at": row.effective_at.isoformat(),
            "entry_id": str(row.entry_id),
        },
        # Another sweep re-reading the same entry queues nothing twice.
        dedupe_key=f"{EXPIRED_TOPIC}:{row.entry_id}",
    )


def _resident_of(wallet_code: str) -> uuid.UUID:
    return uuid.UUID(wallet_code.removeprefix("resident:"))


async def remind_expiring(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    days: int = 30,
    after: uuid.UUID | None = None,
    limit: int = 1000,
) -> ReminderRun:
    """Queue a `points.expiring` reminder per resident and expiry date for points lapsing within
    `days`, for up to `limit` wallets after `after` (by wallet id). A reminder already queued
    for that resident and date is not queued again, so re-running adds nothing."""
    now = clock.as_utc(now or clock.now())
    until = now + timedelta(days=days)
    wallets = await repository.wallets_expiring(
        session, now=now, until=until, after=after, limit=limit
    )
    if not wallets:
        return ReminderRun()
    codes = dict(wallets)
    groups: dict[tuple[uuid.UUID, date], list[Any]] = defaultdict(list)
    for lot in await repository.lots_expiring(session, list(codes), now=now, until=until):
        groups[(lot.account_id, _last_day(lot.expires_at))].append(lot)
    notices = [
        _expiring_notice(_resident_of(codes[account]), day, lots)
        for (account, day), lots in groups.items()
    ]
    queued = await repository.queued_dedupe_keys(session, [n["dedupe_key"] for n in notices])
    fresh = [n for n in notices if n["dedupe_key"] not in queued]
    await outbox.enqueue_many(session, fresh)
    log.info("points.expiry_reminders", wallets=len(wallets), queued=len(fresh))
    return ReminderRun(
        residents=len(wallets),
        reminders=len(fresh),
        points=sum(n["payload"]["points"] for n in fresh),
        next_after=wallets[-1][0] if len(wallets) == limit else None,
    )


def _last_day(expires_at: datetime) -> date:
    """The last local day the points can be used: lapsing at midnight, they are good the day
    before (the default policy's lots lapse as 1 January begins: 31 December is the last day)."""
    return calendar.local_date(expires_at - timedelta(microseconds=1))


def _expiring_notice(resident_id: uuid.UUID, day: date, lots: list[Any]) -> dict[str, Any]:
    return outbox.message(
        topic=EXPIRING_TOPIC,
        resident_id=resident_id,
        payload={
            "points": sum(int(lot.remaining) for lot in lots),
            "last_day": day.isoformat(),
            "expires_at": min(lot.expires_at for lot in lots).isoformat(),
        },
        dedupe_key=f"{EXPIRING_TOPIC}:{resident_id}:{day.isoformat()}",
    )
