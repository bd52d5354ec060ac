"""The worker's periodic jobs: each due job runs once however many workers look, and a failing
job is recorded without stopping the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from core import clock
from core.db import Database
from notifications.models import ScheduledJob
from notifications.schedule import Job, claim, run_due


def counting(name: str, runs: list[str], *, fail: bool = False) -> Job:
    async def run(database: Database) -> int:
        runs.append(name)
        if fail:
            raise RuntimeError("the sweep broke")
        return 1

    return Job(name, timedelta(minutes=5), run)


async def test_a_due_job_is_claimed_by_exactly_one_of_many_workers(committed_db: Database) -> None:
    job = counting("sweep", [])

    async def one_worker() -> bool:
        async with committed_db.unit_of_work() as session:
            return await claim(session, job)

    wins = await asyncio.gather(*(one_worker() for _ in range(8)))
    assert sum(wins) == 1


async def test_jobs_run_when_due_and_not_before(committed_db: Database) -> None:
    runs: list[str] = []
    jobs = [counting("a", runs), counting("b", runs)]
    with clock.frozen(clock.now()):
        assert await run_due(committed_db, jobs) == ["a", "b"]
        assert await run_due(committed_db, jobs) == []
        clock.advance(timedelta(minutes=5))
        assert await run_due(committed_db, jobs) == ["a", "b"]
    assert runs == ["a", "b", "a", "b"]


async def test_a_failing_job_is_recorded_and_the_next_still_runs(committed_db: Database) -> None:
    runs: list[str] = []
    assert await run_due(committed_db, [counting("bad", runs, fail=True), counting("good", runs)])
    assert runs == ["bad", "good"]
    async with committed_db.unit_of_work() as session:
        rows = {j.name: j for j in (await session.execute(select(ScheduledJob))).scalars()}
    assert rows["bad"].last_error == "RuntimeError: the sweep broke"
    assert rows["good"].last_error is None
    assert rows["bad"].last_finished_at is not None


async def test_a_worker_remembers_when_jobs_are_next_due(committed_db: Database) -> None:
    runs: list[str] = []
    job = counting("sweep", runs)
    mine: dict = {}
    theirs: dict = {}
    with clock.frozen(clock.now()):
        start = clock.now()
        assert await run_due(committed_db, [job], theirs) == ["sweep"]  # another worker ran it
        assert await run_due(committed_db, [job], mine) == []
        # This worker learnt from the table when the job is next due, and will not ask before.
        assert mine == {"sweep": start + timedelta(minutes=5)}
        assert theirs == {"sweep": start + timedelta(minutes=5)}
        clock.advance(timedelta(minutes=5))
        assert await run_due(committed_db, [job], mine) == ["sweep"]
    assert runs == ["sweep", "sweep"]
