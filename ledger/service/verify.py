"""The verifier: recomputes every invariant of the ledger from its rows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ledger import hashing
from ledger import verify_queries as q
from ledger.schemas import VerifyReport, Violation

PAGE = 2000
MAX_HASH_VIOLATIONS = 50

Progress = Callable[[int, int], None]


async def verify(session: AsyncSession, *, progress: Progress | None = None) -> VerifyReport:
    """Check balance, lot, hold and tamper-evidence invariants; report every violation found."""
    counts = await q.counts(session)
    report = VerifyReport(
        accounts=counts["ledger_account"],
        entries=counts["ledger_entry"],
        postings=counts["ledger_posting"],
        lots=counts["ledger_lot"],
        checkpoints=counts["ledger_checkpoint"],
    )
    for name, sql, describe in q.CHECKS:
        for row in await q.offending_rows(session, sql):
            report.violations.append(Violation(check=name, detail=describe.format(**row._mapping)))
    await _verify_hashes(session, report, progress)
    return report


async def _verify_hashes(
    session: AsyncSession, report: VerifyReport, progress: Progress | None
) -> None:
    """Recompute each entry's HMAC and each checkpoint's chain in one pass in seq order."""
    chain = _CheckpointChain(list(await q.all_checkpoints(session)), report)
    total, done, after = report.entries, 0, 0
    bad_hashes = 0
    while rows := await q.entry_page(session, after, PAGE):
        legs: dict[uuid.UUID, list[tuple[uuid.UUID, str, int]]] = defaultdict(list)
        for leg in await q.legs_of(session, [r.id for r in rows]):
            legs[leg.entry_id].append((leg.account_id, leg.asset, leg.amount))
        for row in rows:
            if _recompute(row, legs[row.id]) != row.hash:
                bad_hashes += 1
                if bad_hashes <= MAX_HASH_VIOLATIONS:
                    report.violations.append(
                        Violation(
                            check="entry-hash",
                            detail=f"entry {row.key} (seq {row.seq}) "
                            "does not match its seal: content or postings were changed",
                        )
                    )
            chain.feed(row.seq, row.hash)
        after = rows[-1].seq
        done += len(rows)
        if progress:
            progress(done, total)
    chain.finish()
    report.unsealed_entries = chain.unsealed


def _recompute(row: Any, legs: list[tuple[uuid.UUID, str, int]]) -> str:
    return hashing.entry_hash(
        entry_id=row.id,
        key=row.key,
        kind=row.kind,
        memo=row.memo,
        metadata=row.metadata,
        actor=row.actor,
        effective_at=row.effective_at,
        created_at=row.created_at,
        reverses_id=row.reverses_id,
        postings=legs,
    )


class _CheckpointChain:
    """Follows the checkpoints while entries stream by in seq order."""

    def __init__(self, checkpoints: list[Any], report: VerifyReport) -> None:
        self.checkpoints = checkpoints
        self.report = report
        self.index = 0
        self.prev_hash = hashing.GENESIS
        self.prev_last = 0
        self.unsealed = 0
        self.mac = hashing.CheckpointMac(self.prev_hash)

    def _fail(self, detail: str) -> None:
        self.report.violations.append(Violation(check="checkpoint", detail=detail))

    def feed(self, seq: int, digest: str) -> None:
        while self.index < len(self.checkpoints) and seq > self.checkpoints[self.index].last_seq:
            self._close()
        if self.index >= len(self.checkpoints):
            self.unsealed += 1
            return
        self.mac.add(seq, digest)

    def _close(self) -> None:
        cp = self.checkpoints[self.index]
        if cp.prev_hash != self.prev_hash:
            self._fail(f"checkpoint {cp.id} does not chain to the one before it")
        if self.mac.count != cp.entry_count or self.mac.hexdigest() != cp.hash:
            self._fail(
                f"checkpoint {cp.id} (seq {self.prev_last + 1}..{cp.last_seq}) sealed "
                f"{cp.entry_count} entries; {self.mac.count} found, seal does not match: "
                "entries were changed, added or deleted"
            )
        self.prev_hash, self.prev_last = cp.hash, cp.last_seq
        self.index += 1
        self.mac = hashing.CheckpointMac(cp.hash)

    def finish(self) -> None:
        while self.index < len(self.checkpoints):
            self._close()
