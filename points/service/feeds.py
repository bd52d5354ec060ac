"""Importing integration feeds: batches of records from the garbage-sorting machines (绿色存折),
the volunteer platform and public bikes, each record awarding points like a staff award would.

Why it looks different from `awards.award`:
- Speed. A hundred thousand rows must import in well under a minute, so rows go in chunks of a
  thousand: validated in Python, residents and existing record ids looked up in bulk, caps taken
  by a few multi-row conditional upserts, award rows inserted in bulk, the ledger entries posted
  with one `ledger.post_entries` call and the outbox rows written in one statement per chunk.
- One transaction per chunk, not per batch: this takes a factory of units of work (`units`)
  rather than a session. A chunk commits whole or not at all; committed chunks stay committed
  if a later one fails, and running the batch again finishes the job, because each record's id
  is its award's idempotency key (issued_by `feed:<source>`): a record already imported is
  reported as a duplicate, a record id reused with other content as a row error.
- A failing row never stops the batch: it is reported with its line, record id and a stable
  reason (the problem type of the domain error where there is one).
Caps count by `occurred_at`, on the same counters as staff awards. Feeds have no staff budget and
no approval threshold: the machines and platforms certify the behaviour themselves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import is_postgresql
from core.errors import DomainError
from points import calendar
from points.errors import (
    BehaviourNotActive,
    CapReached,
    IdempotencyKeyReused,
    NoBehaviourList,
    NotCertifier,
    UnknownBehaviour,
    UnknownFeedSource,
    UnknownResident,
)
from points.models import Behaviour
from points.repository import behaviours as behaviour_repo
from points.repository import feeds as repo
from points.schemas.feeds import FeedReport, FeedRow, FeedRowError
from points.service import limits
from points.service.awards import fingerprint, quantity_milli
from points.service.feed_batch import Batch, FeedClaim, Outcome
from points.service.feed_caps import cap_keys, fitting_caps, take_caps
from points.service.feed_parsing import INVALID_ROW
from points.service.feed_posting import award_row, post

log = structlog.get_logger(__name__)

Units = Callable[[], AbstractAsyncContextManager[AsyncSession]]
CHUNK_ROWS = 1000
FUTURE_LEEWAY = timedelta(minutes=5)  # machines' clocks drift
MAX_AGE = timedelta(days=90)  # older records are no longer accepted
_RETRIES = 3
_CAP_PASSES = 3
_WORKERS = 2
_RETRYABLE_STATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


async def import_feed(
    units: Units,
    *,
    source: str,
    rows: Iterable[FeedRow | FeedRowError],
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> FeedReport:
    """Award points for every importable record of a feed batch; the per-row report.

    `units()` opens a unit of work (one per chunk); `workers` chunks run at once, each in its
    own transaction (default: 2 on PostgreSQL, so one chunk's Python work overlaps another's
    database work; 1 on SQLite, whose write lock serialises them anyway); `progress` is told
    the rows done so far. With several workers, chunks commit in no fixed order: which of a
    resident's rows meets a full cap first can vary, never whether the cap holds."""
    async with units() as session:
        batch = Batch(source, await _feed_behaviours(session, source), FeedReport(source=source))
        postgres = is_postgresql(session)
    chunks = _chunks(rows, chunk_rows)

    async def work() -> None:
        for chunk in chunks:  # shared: each worker takes the next chunk when it is free
            _absorb(batch, chunk, await _import_chunk(units, batch, chunk))
            if progress is not None:
                progress(batch.report.rows)

    await _together([work() for _ in range(workers or (_WORKERS if postgres else 1))])
    report = batch.report
    report.errors.sort(key=lambda error: error.line)
    log.info(
        "points.feed_imported",
        source=source,
        rows=report.rows,
        imported=report.imported,
        duplicates=report.duplicates,
        failed=report.failed,
        points=report.points,
    )
    return report


async def _together(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run the jobs at once; the first failure cancels the others and is raised as it is."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _feed_behaviours(session: AsyncSession, source: str) -> dict[str, Behaviour]:
    """The current list's behaviours by code; UnknownFeedSource if the feed certifies none."""
    version = await behaviour_repo.latest_version(session)
    if version is None or version.id is None:
        raise NoBehaviourList("No behaviour list has been published.")
    behaviours = {b.code: b for b in await behaviour_repo.behaviours_of(session, version.id)}
    if not any(b.certified_by == f"feed:{source}" for b in behaviours.values()):
        raise UnknownFeedSource(
            f"No behaviour in the current list is certified by the {source!r} feed.",
            source=source,
        )
    return behaviours


def _chunks(
    rows: Iterable[FeedRow | FeedRowError], size: int
) -> Iterator[list[FeedRow | FeedRowError]]:
    """Rows in chunks of `size`; a record id seen twice starts a new chunk, so its second
    occurrence meets the first one's committed award (a duplicate) rather than racing it."""
    chunk: list[FeedRow | FeedRowError] = []
    ids: set[str] = set()
    for row in rows:
        repeated = isinstance(row, FeedRow) and row.record_id in ids
        if len(chunk) >= size or repeated:
            yield chunk
            chunk, ids = [], set()
        chunk.append(row)
        if isinstance(row, FeedRow):
            ids.add(row.record_id)
    if chunk:
        yield chunk


def _absorb(batch: Batch, chunk: list[FeedRow | FeedRowError], outcome: Outcome) -> None:
    report = batch.report
    report.rows += len(chunk)
    report.imported += outcome.imported
    report.duplicates += outcome.duplicates
    report.points += outcome.points
    report.failed += len(outcome.errors)
    report.errors.extend(outcome.errors)


async def _import_chunk(units: Units, batch: Batch, chunk: list[FeedRow | FeedRowError]) -> Outcome:
    """One chunk in its own transaction, retried whole if the database picked it as a
    deadlock or serialization victim."""
    for attempt in range(1, _RETRIES + 1):
        outcome = Outcome(errors=[row for row in chunk if isinstance(row, FeedRowError)])
        try:
            async with units() as session:
                await _chunk(session, batch, [r for r in chunk if isinstance(r, FeedRow)], outcome)
            return outcome
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
            if state not in _RETRYABLE_STATES or attempt == _RETRIES:
                raise
            log.warning("points.feed_chunk_retried", source=batch.source, attempt=attempt)
    raise AssertionError("unreachable")


async def _chunk(
    session: AsyncSession, batch: Batch, rows: list[FeedRow], outcome: Outcome
) -> None:
    now = clock.now()
    claims = await _claims(session, rows, outcome)
    claims = await _fresh(session, batch, claims, outcome)
    claims = [c for c in claims if _acceptable(batch, c, now, outcome)]
    claims = fitting_caps(claims, await repo.cap_usage(session, cap_keys(claims)), outcome)
    for claim in claims:
        claim.award = award_row(batch, claim, now)
    claims = await _record(session, batch, claims, outcome)
    if claims:
        await post(session, batch, claims, outcome)
    outcome.imported = len(claims)
    outcome.points = sum(c.points for c in claims)


async def _claims(session: AsyncSession, rows: list[FeedRow], outcome: Outcome) -> list[FeedClaim]:
    """Rows whose resident exists, with the fingerprint of their content."""
    ids = {r.resident_id for r in rows if r.resident_id is not None}
    known = await repo.known_residents(session, ids) if ids else set()
    indexes = {r.phone_index for r in rows if r.phone_index is not None}
    by_phone = await repo.residents_by_phone_index(session, indexes) if indexes else {}
    claims = []
    for row in rows:
        named = row.resident_id if row.resident_id in known else None
        phoned = by_phone.get(row.phone_index) if row.phone_index is not None else None
        resident_id = named or phoned
        if resident_id is None or (named and row.phone_index and phoned != named):
            outcome.refuse(row, UnknownResident("No resident has that id or phone."))
            continue
        claims.append(FeedClaim(row, resident_id, _fingerprint(row, resident_id)))
    return claims


def _fingerprint(row: FeedRow, resident_id: uuid.UUID) -> str:
    # Of what the record means, never of the phone (a hash of 11 digits is easily reversed).
    return fingerprint(
        {
            "resident_id": str(resident_id),
            "behaviour": row.behaviour,
            "quantity_milli": int(row.quantity * 1000),
            "occurred_at": row.occurred_at.isoformat(),
            "community": row.community,
        }
    )


async def _fresh(
    session: AsyncSession, batch: Batch, claims: list[FeedClaim], outcome: Outcome
) -> list[FeedClaim]:
    """Claims whose record id is new; earlier ones are duplicates, or conflicts if changed."""
    keys = [c.row.record_id for c in claims]
    earlier = await repo.hashes_by_key(session, batch.issued_by, keys) if keys else {}
    fresh = []
    for claim in claims:
        known = earlier.get(claim.row.record_id)
        if known is None:
            fresh.append(claim)
        else:
            _seen_before(claim, known, outcome)
    return fresh


def _seen_before(claim: FeedClaim, request_hash: str, outcome: Outcome) -> None:
    if request_hash == claim.request_hash:
        outcome.duplicates += 1
        return
    outcome.refuse(
        claim.row,
        IdempotencyKeyReused(
            f"Record {claim.row.record_id!r} was already imported with different content."
        ),
    )


def _acceptable(batch: Batch, claim: FeedClaim, now: datetime, outcome: Outcome) -> bool:
    """Check the claim against the behaviour list and the time window; False after a refusal."""
    row = claim.row
    if row.occurred_at > now + FUTURE_LEEWAY:
        outcome.fail(row, INVALID_ROW, "occurred_at is in the future.")
        return False
    if row.occurred_at < now - MAX_AGE:
        outcome.fail(row, INVALID_ROW, f"occurred_at is more than {MAX_AGE.days} days ago.")
        return False
    if calendar.expiry_for(row.occurred_at) <= now:
        outcome.fail(row, INVALID_ROW, "Points earned at occurred_at would already have lapsed.")
        return False
    try:
        claim.behaviour = _behaviour(batch, row)
        milli = quantity_milli(row.quantity, claim.behaviour)
    except DomainError as refusal:
        outcome.refuse(row, refusal)
        return False
    claim.points = milli * claim.behaviour.points_per_unit // 1000
    return True


def _behaviour(batch: Batch, row: FeedRow) -> Behaviour:
    behaviour = batch.behaviours.get(row.behaviour)
    if behaviour is None:
        raise UnknownBehaviour(f"No behaviour {row.behaviour!r} in the current list.")
    if behaviour.certified_by != batch.issued_by:
        raise NotCertifier(
            f"{row.behaviour!r} is certified by {behaviour.certified_by}, "
            f"not by the {batch.source} feed.",
            certified_by=behaviour.certified_by,
        )
    starts, ends = behaviour.active_from, behaviour.active_until
    if (starts is not None and row.occurred_at < starts) or (
        ends is not None and row.occurred_at >= ends
    ):
        raise BehaviourNotActive(f"{row.behaviour!r} did not earn points at occurred_at.")
    return behaviour


# --- writing -------------------------------------------------------------------------------------


async def _record(
    session: AsyncSession, batch: Batch, claims: list[FeedClaim], outcome: Outcome
) -> list[FeedClaim]:
    """Insert the award rows and take the caps, in bulk; the claims recorded.

    If a concurrent award took cap room since the counters were read, the pass is rolled back
    and made again on fresh counters (the failed upsert waited for that award to commit, so
    the next read sees it); after a few such passes, row by row, so no row poisons the rest."""
    for _ in range(_CAP_PASSES):
        if not claims:
            return []
        savepoint = await session.begin_nested()
        inserted = await repo.insert_awards(session, [c.award for c in claims])
        claims = await _sort_out_races(session, batch, claims, inserted, outcome)
        if await take_caps(session, claims):
            await savepoint.commit()
            return claims
        await savepoint.rollback()
        log.info("points.feed_caps_raced", source=batch.source, claims=len(claims))
        claims = fitting_caps(claims, await repo.cap_usage(session, cap_keys(claims)), outcome)
    log.info("points.feed_caps_row_by_row", source=batch.source, claims=len(claims))
    return [c for c in claims if await _record_one(session, batch, c, outcome)]


async def _record_one(
    session: AsyncSession, batch: Batch, claim: FeedClaim, outcome: Outcome
) -> bool:
    assert claim.behaviour is not None
    try:
        async with session.begin_nested():
            if not await repo.insert_awards(session, [claim.award]):
                await _sort_out_races(session, batch, [claim], set(), outcome)
                return False
            await limits.take_caps(
                session,
                behaviour=claim.behaviour,
                resident_id=claim.resident_id,
                occurred_at=claim.row.occurred_at,
                points=claim.points,
            )
    except CapReached as refusal:
        outcome.refuse(claim.row, refusal)
        return False
    return True


async def _sort_out_races(
    session: AsyncSession,
    batch: Batch,
    claims: list[FeedClaim],
    inserted: set[str],
    outcome: Outcome,
) -> list[FeedClaim]:
    """The claims inserted; the others lost their key to a concurrent import of the same
    record, committed meanwhile: duplicates, or conflicts if the content differs."""
    lost = [c for c in claims if c.row.record_id not in inserted]
    if lost:
        keys = [c.row.record_id for c in lost]
        earlier = await repo.hashes_by_key(session, batch.issued_by, keys)
        for claim in lost:
            _seen_before(claim, earlier.get(claim.row.record_id, ""), outcome)
    return [c for c in claims if c.row.record_id in inserted]
