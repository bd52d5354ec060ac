"""The worker's periodic jobs (expiry sweeps, hold and voucher timeouts, reminders, sealing):
each due job is run by exactly one of the running workers, in transactions of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import Database, upsert
from notifications.models import ScheduledJob

log = structlog.get_logger(__name__)
_job_t = ScheduledJob.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Job:
    """A sweep run every `every`. `run` opens its own units of work and returns how many
    things it changed (for the log)."""

    name: str
    every: timedelta
    run: Callable[[Database], Awaitable[int]]


async def claim(session: AsyncSession, job: Job) -> bool:
    """Whether this worker runs `job` now: true for the one worker that moves its next run
    forward, false for every other worker and while the job is not due."""
    now = clock.now()
    await session.execute(
        upsert(session, _job_t).on_conflict_do_nothing(), [{"name": job.name, "next_run_at": now}]
    )
    claimed = await session.execute(
        update(_job_t)
        .where(_job_t.c.name == job.name, _job_t.c.next_run_at <= now)
        .values(next_run_at=now + job.every, last_started_at=now)
        .returning(_job_t.c.name)
    )
    return claimed.first() is not None


async def _next_run(session: AsyncSession, name: str) -> datetime | None:
    found = await session.scalar(select(_job_t.c.next_run_at).where(_job_t.c.name == name))
    return clock.as_utc(found) if found is not None else None


async def run_due(
    database: Database, jobs: list[Job], due_at: dict[str, datetime] | None = None
) -> list[str]:
    """Run every due job once; the names of those run. A failing job is logged and recorded,
    and the others still run: one broken sweep must not stop notifications.

    `due_at` (kept by the caller between rounds) remembers when each job is next due, so an
    idle worker does not open a transaction per job every round just to find it is not."""
    due_at = {} if due_at is None else due_at
    now = clock.now()
    ran = []
    for job in jobs:
        if now < due_at.get(job.name, now):
            continue
        async with database.unit_of_work() as session:
            if not await claim(session, job):
                due_at[job.name] = await _next_run(session, job.name) or now + job.every
                continue
        due_at[job.name] = now + job.every
        error: str | None = None
        try:
            changed = await job.run(database)
            log.info("worker.job_done", job=job.name, changed=changed)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("worker.job_failed", job=job.name)
        async with database.unit_of_work() as session:
            await session.execute(
                update(_job_t)
                .where(_job_t.c.name == job.name)
                .values(last_finished_at=clock.now(), last_error=error)
            )
        ran.append(job.name)
    return ran
