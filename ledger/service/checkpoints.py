"""Sealing entries into chained HMAC checkpoints, so a changed or deleted entry shows."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import get_settings
from ledger import hashing
from ledger import repository as repo
from ledger.schemas import CheckpointOut

# Arbitrary constant naming the advisory lock that lets one sealer run at a time.
_SEALER_LOCK = 0x5755_4A49


async def seal(session: AsyncSession, *, max_entries: int | None = None) -> CheckpointOut | None:
    """Seal the next run of committed entries after the last checkpoint, if there are any."""
    max_entries = max_entries or get_settings().ledger_checkpoint_size
    horizon = await _committed_horizon(session)
    last = await repo.last_checkpoint(session)
    after, prev_hash = (last.last_seq, last.hash) if last else (0, hashing.GENESIS)
    rows = await repo.entry_hashes_between(session, after, horizon, max_entries)
    if not rows:
        return None
    digest = hashing.checkpoint_hash(prev_hash, [(r.seq, r.hash) for r in rows])
    now = clock.now()
    row = {
        "first_seq": rows[0].seq,
        "last_seq": rows[-1].seq,
        "entry_count": len(rows),
        "prev_hash": prev_hash,
        "hash": digest,
        "created_at": now,
    }
    checkpoint_id = await repo.insert_checkpoint(session, row)
    return CheckpointOut(id=checkpoint_id, **{k: v for k, v in row.items() if k != "prev_hash"})


async def seal_all(session: AsyncSession) -> list[CheckpointOut]:
    """Seal until every committed entry is in a checkpoint."""
    sealed = []
    while (checkpoint := await seal(session)) is not None:
        sealed.append(checkpoint)
    return sealed


async def _committed_horizon(session: AsyncSession) -> int:
    """The highest entry seq below which no entry can still appear.

    Sequence numbers are taken at insert but become visible at commit, so a writer still in
    flight may hold a lower number than one already committed. On PostgreSQL a SHARE lock waits
    for every writer in flight (and holds new ones back for the moment this transaction lasts).
    SQLite has one writer at a time, and this transaction is it."""
    if repo.dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEALER_LOCK})
        await session.execute(text("LOCK TABLE ledger_entry IN SHARE MODE"))
    return await repo.max_entry_seq(session)
