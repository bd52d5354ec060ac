"""Many writers at once against a few hot wallets and one issuer, with replays and expiry.

Afterwards: the verifier passes, nothing went negative, every key was applied exactly once, and
no caller saw anything but a domain refusal (no deadlock, no integrity error)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import text

import ledger
from core import clock
from ledger.errors import (
    AlreadyReversed,
    HoldExpired,
    HoldNotPending,
    InsufficientBalance,
    InvalidEntry,
    ReversalExceedsRemaining,
)
from tests.factories import award, make_issuer, make_sink, make_wallet, spend

TASKS = 32
OPS_PER_TASK = 12
WALLETS = 4
EXPECTED_REFUSALS = (
    InsufficientBalance,
    AlreadyReversed,
    ReversalExceedsRemaining,
    HoldNotPending,
    HoldExpired,
    InvalidEntry,  # a short expiry that passed while the request queued for its locks
)


class Workload:
    def __init__(self, db, wallets, seed):
        self.db = db
        self.wallets = wallets
        self.rng = random.Random(seed)
        self.results: dict[str, set] = defaultdict(set)  # key -> entry ids seen by callers
        self.done: list[ledger.EntryOut] = []
        self.holds: list = []
        self.sent_awards: list[dict] = []
        self.refusals: dict[str, int] = defaultdict(int)
        self.calls = 0

    async def run_task(self, task: int) -> None:
        rng = random.Random(self.rng.random())
        for op in range(OPS_PER_TASK):
            action = rng.choice(
                [
                    "award",
                    "award",
                    "spend",
                    "spend",
                    "hold",
                    "resolve",
                    "reverse",
                    "replay",
                    "expire",
                    "expire_holds",
                ]
            )
            try:
                async with self.db.unit_of_work() as s:
                    await getattr(self, action)(s, rng, f"t{task}-{op}")
            except EXPECTED_REFUSALS as refusal:
                self.refusals[type(refusal).__name__] += 1
            self.calls += 1

    def record(self, entry) -> None:
        self.results[entry.key].add(entry.id)
        if not entry.replayed:
            self.done.append(entry)

    async def award(self, s, rng, tag):
        lifetime = timedelta(seconds=1) if rng.random() < 0.3 else timedelta(days=30)
        sent = {
            "wallet": rng.choice(self.wallets),
            "points": rng.randint(1, 50),
            "expires_at": clock.now() + lifetime,
            "entry_key": f"award-{tag}",
        }
        self.record(await award(s, **sent))
        self.sent_awards.append(sent)

    async def spend(self, s, rng, tag):
        self.record(
            await spend(s, rng.choice(self.wallets), rng.randint(1, 60), entry_key=f"spend-{tag}")
        )

    async def hold(self, s, rng, tag):
        held = await ledger.hold(
            s,
            key=f"hold-{tag}",
            source=rng.choice(self.wallets),
            amount=rng.randint(1, 40),
            expires_at=clock.now() + timedelta(seconds=rng.choice([1, 60])),
            actor="resident",
        )
        self.holds.append(held.id)

    async def resolve(self, s, rng, tag):
        if not self.holds:
            return
        hold_id = rng.choice(self.holds)
        if rng.random() < 0.5:
            await ledger.void_hold(s, hold_id=hold_id, actor="resident")
        else:
            held = await ledger.get_hold(s, hold_id=hold_id)
            await ledger.post_hold(
                s,
                hold_id=hold_id,
                destination="sink:redeemed",
                amount=rng.randint(1, held.amount),
                actor="merchant",
            )

    async def reverse(self, s, rng, tag):
        candidates = [e for e in self.done if e.kind == "transfer"]
        if not candidates:
            return
        target = rng.choice(candidates)
        amount = None if rng.random() < 0.5 else 1
        self.record(
            await ledger.reverse(
                s, entry_id=target.id, key=f"rev-{tag}", actor="approver", amount=amount
            )
        )

    async def replay(self, s, rng, tag):
        """Re-send an award exactly as first sent: the first result comes back, nothing moves."""
        if not self.sent_awards:
            return
        again = await award(s, **rng.choice(self.sent_awards))
        assert again.replayed
        self.record(again)

    async def expire(self, s, rng, tag):
        await ledger.expire(s)

    async def expire_holds(self, s, rng, tag):
        await ledger.expire_holds(s)


async def test_concurrent_writers_keep_every_invariant(committed_db):
    async with committed_db.unit_of_work() as s:
        await make_issuer(s)
        await make_sink(s)
        wallets = [await make_wallet(s, f"resident:hot{i}:wallet") for i in range(WALLETS)]
        for wallet in wallets:
            await award(s, wallet, 100)
    work = Workload(committed_db, wallets, seed=20261124)

    outcomes = await asyncio.gather(
        *(work.run_task(t) for t in range(TASKS)), return_exceptions=True
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, f"{len(failures)} tasks failed; first: {failures[0]!r}"
    async with committed_db.unit_of_work() as s:
        await ledger.seal_all(s)
        report = await ledger.verify(s)
        balances = [await ledger.balance(s, account=w) for w in wallets]
        duplicates = (
            await s.execute(text("SELECT key FROM ledger_entry GROUP BY key HAVING COUNT(*) > 1"))
        ).all()

    assert work.calls == TASKS * OPS_PER_TASK
    assert report.ok, report.violations
    assert all(b >= 0 for b in balances), balances
    assert duplicates == []
    assert all(len(ids) == 1 for ids in work.results.values()), "a key yielded two entries"
    assert sum(work.refusals.values()) > 0  # the workload really pushed against the guards
