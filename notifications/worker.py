"""The worker process (`wujiang worker`): fans out the outbox, sends what is due, runs the
periodic jobs, and sleeps when there is nothing to do. Several may run at once on
PostgreSQL; on SQLite run one."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

import structlog

from core.db import Database
from core.settings import Settings
from identity.sms import SmsSender
from notifications.fanout import fan_out
from notifications.push import PushSender
from notifications.schedule import Job, run_due
from notifications.sending import send_round

log = structlog.get_logger(__name__)


@dataclass
class Progress:
    """What one round did; a round that did nothing means the worker may sleep."""

    fanned_out: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    dropped: int = 0
    jobs: int = 0

    @property
    def idle(self) -> bool:
        # Jobs that ran may have queued notices (reminders, expiries): not idle yet.
        return self.fanned_out == 0 and self.claimed == 0 and self.jobs == 0


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        push: PushSender,
        sms: SmsSender,
        jobs: list[Job] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.push = push
        self.sms = sms
        self.jobs = jobs or []
        self._jobs_due_at: dict[str, datetime] = {}

    async def run_once(self) -> Progress:
        """One round: a batch of outbox messages fanned out (one transaction), a batch of
        deliveries claimed, sent and recorded, and the due periodic jobs."""
        progress = Progress()
        async with self.database.unit_of_work() as session:
            fanned = await fan_out(
                session,
                limit=self.settings.worker_batch_size,
                timezone=self.settings.points_timezone,
            )
        progress.fanned_out = fanned.messages
        sent = await send_round(self.database, self.push, self.sms, self.settings)
        progress.claimed = sent.claimed
        progress.sent = sent.sent
        progress.retried = sent.retried
        progress.dead = sent.dead + fanned.dead
        progress.dropped = sent.dropped
        progress.jobs = len(await run_due(self.database, self.jobs, self._jobs_due_at))
        return progress

    async def run_until_idle(self, *, max_rounds: int = 10_000) -> Progress:
        """Rounds until one finds nothing due (tests, benchmarks, `wujiang worker --once`)."""
        total = Progress()
        for _ in range(max_rounds):
            step = await self.run_once()
            for name in ("fanned_out", "claimed", "sent", "retried", "dead", "dropped", "jobs"):
                setattr(total, name, getattr(total, name) + getattr(step, name))
            if step.idle:
                break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: rounds back to back while there is work, a nap when there is
        none. A round in progress finishes before the worker stops (SIGTERM); a worker killed
        outright loses nothing either (see notifications.sending)."""
        log.info("worker.started", jobs=[job.name for job in self.jobs])
        while not stop.is_set():
            try:
                step = await self.run_once()
            except Exception:
                # The database or Redis went away, say: keep the process, try again shortly.
                log.exception("worker.round_failed")
                step = Progress()
            if step.idle:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.worker_poll_seconds)
        log.info("worker.stopped")
