"""The programme's periodic sweeps, and the ledger housekeeping it drives, as jobs for the
notification worker (`wujiang worker` runs them; see notifications.schedule). Each runs in
transactions of its own, in batches, until nothing is left."""

from __future__ import annotations

from datetime import timedelta

import ledger
from core import clock, idempotency
from core.db import Database
from notifications.schedule import Job
from points import expire_points, expire_vouchers, remind_expiring, remind_expiring_vouchers

BATCH = 500


async def _expire_points(database: Database) -> int:
    now, total = clock.now(), 0
    while True:
        async with database.unit_of_work() as session:
            swept = await expire_points(session, now=now, limit=BATCH)
        if swept.residents == 0:
            return total
        total += swept.points


async def _remind(database: Database) -> int:
    now, total, after = clock.now(), 0, None
    while True:
        async with database.unit_of_work() as session:
            step = await remind_expiring(session, now=now, after=after, limit=BATCH)
        total += step.reminders
        if (after := step.next_after) is None:
            return total


async def _expire_vouchers(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            done = await expire_vouchers(session, limit=BATCH)
        total += done
        if done < BATCH:
            return total


async def _remind_vouchers(database: Database) -> int:
    now, total, after = clock.now(), 0, None
    while True:
        async with database.unit_of_work() as session:
            seen, after = await remind_expiring_vouchers(session, now=now, after=after, limit=BATCH)
        total += seen
        if after is None:
            return total


async def _time_out_holds(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            voided = await ledger.expire_holds(session, limit=BATCH)
        total += voided
        if not voided:
            return total


async def _seal(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            checkpoint = await ledger.seal(session)
        if checkpoint is None:
            return total
        total += checkpoint.entry_count


async def _purge_idempotency_records(database: Database) -> int:
    total = 0
    while True:
        async with database.unit_of_work() as session:
            purged = await idempotency.purge_expired(session, limit=BATCH)
        total += purged
        if purged < BATCH:
            return total


# Each in transactions of its own, in this order: vouchers close (releasing their holds)
# before the generic hold timeout looks at what is left.
JOBS = [
    Job("rewards.expire_vouchers", timedelta(minutes=1), _expire_vouchers),
    Job("ledger.time_out_holds", timedelta(minutes=1), _time_out_holds),
    Job("points.expire", timedelta(hours=1), _expire_points),
    Job("points.remind_expiring", timedelta(hours=1), _remind),
    Job("rewards.remind_expiring_vouchers", timedelta(hours=1), _remind_vouchers),
    Job("ledger.seal", timedelta(minutes=5), _seal),
    Job("idempotency.purge", timedelta(hours=1), _purge_idempotency_records),
]
