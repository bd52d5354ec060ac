"""The ledger against a model: random sequences of operations, the invariants checked after each.

A hypothesis `RuleBasedStateMachine` drives awards, spends, wallet-to-wallet transfers, holds
(posted in full or part, voided, timed out), reversals (full or part), lot expiry under a frozen
clock, and replays of earlier keys, against the real ledger (SQLite, or PostgreSQL when
`WUJIANG_TEST_DATABASE_URL` is set) and against a plain in-memory model of wallets and their
expiry lots. Every refusal the ledger gives must be the one the model predicts, and only then.

The machine is synchronous, so it runs the ledger on an event loop and engine of its own (the
suite's loop is idle while a sync test runs). Each example works in one transaction on one
connection, rolled back at teardown, with its own asset and account codes.

Budget: `WUJIANG_LEDGER_SM_EXAMPLES` (default 25) examples of `WUJIANG_LEDGER_SM_STEPS`
(default 30) steps.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import ledger
from core import clock
from core.db import Database, make_engine
from core.settings import Settings
from ledger import AccountFlags, PostingIn
from ledger.errors import (
    AlreadyReversed,
    HoldExpired,
    HoldNotPending,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidEntry,
    LedgerError,
    NotReversible,
    ReversalExceedsRemaining,
)
from tests.factories import award, make_issuer, make_sink, make_wallet, spend

T = TypeVar("T")

EXAMPLES = int(os.environ.get("WUJIANG_LEDGER_SM_EXAMPLES", "25"))
STEPS = int(os.environ.get("WUJIANG_LEDGER_SM_STEPS", "30"))
VERIFY_EVERY = 10  # steps between full `ledger.verify` runs (and once more at teardown)

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
FAR = datetime(9999, 1, 1, tzinfo=UTC)
WALLETS = 3
# Short lives against the clock's steps, so that lots and holds lapse (often at once) mid-run.
LOT_EXPIRY = [None, timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=3)]
HOLD_TIMEOUT = [timedelta(hours=1), timedelta(hours=6), timedelta(days=1)]
CLOCK_STEP = [timedelta(hours=1), timedelta(hours=6), timedelta(days=1)]


# --- the model -----------------------------------------------------------------------------


@dataclass(eq=False)
class Lot:
    entry_id: uuid.UUID  # the entry that opened it (one lot per entry and wallet)
    order: int  # opening order: the ledger breaks expiry ties by creation time, then id (v7)
    remaining: int
    expires_at: datetime | None

    def sort_key(self) -> tuple[bool, datetime, int]:
        return (self.expires_at is None, self.expires_at or FAR, self.order)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


Uses = list[tuple[Lot, int]]  # what a debit took from which lot


@dataclass(eq=False)
class Transfer:
    """An award, spend or wallet-to-wallet transfer the machine posted."""

    id: uuid.UUID
    key: str
    kind: str
    amount: int
    request: dict[str, Any]  # the post_entry arguments, for replays
    consumed: Uses  # from the debited wallet (spend, transfer)
    lot: Lot | None  # opened in the credited wallet (award, transfer)
    reversal: tuple[str, int | None, uuid.UUID] | None = None  # key, amount, entry id


@dataclass(eq=False)
class Hold:
    id: uuid.UUID
    key: str
    wallet: str
    amount: int
    expires_at: datetime
    request: dict[str, Any]
    consumed: Uses
    status: str = "pending"
    resolution: tuple[str, tuple[Any, ...]] | None = None  # its key, what was asked
    resolution_entry_id: uuid.UUID | None = None


@dataclass
class Model:
    wallets: list[str]
    lots: dict[str, list[Lot]] = field(default_factory=dict)
    issuer: int = 0
    sink: int = 0
    held: int = 0
    expired: int = 0
    opened: Iterator[int] = field(default_factory=itertools.count)
    # Per wallet, the (lot, remaining) sets earlier expiry runs swept (for the known bug).

    def __post_init__(self) -> None:
        self.lots = {w: [] for w in self.wallets}

    def balance(self, wallet: str) -> int:
        return sum(lot.remaining for lot in self.lots[wallet])

    def spendable(self, wallet: str, now: datetime) -> int:
        return sum(lot.remaining for lot in self.lots[wallet] if not lot.expired(now))

    def open_lot(
        self, wallet: str, entry_id: uuid.UUID, amount: int, expires_at: datetime | None
    ) -> Lot:
        lot = Lot(entry_id, next(self.opened), amount, expires_at)
        self.lots[wallet].append(lot)
        return lot

    def consume(self, wallet: str, need: int, now: datetime) -> Uses:
        """Oldest-expiring unexpired lots first, never-expiring last."""
        assert self.spendable(wallet, now) >= need
        uses: Uses = []
        live = [lot for lot in self.lots[wallet] if lot.remaining and not lot.expired(now)]
        for lot in sorted(live, key=Lot.sort_key):
            if need == 0:
                break
            take = min(lot.remaining, need)
            lot.remaining -= take
            uses.append((lot, take))
            need -= take
        return uses

    @staticmethod
    def restore(consumed: Uses, give: int) -> None:
        """Give back to the lots a debit consumed, latest-expiring first (expired or not)."""
        for lot, took in sorted(consumed, key=lambda use: use[0].sort_key(), reverse=True):
            if give == 0:
                break
            back = min(took, give)
            lot.remaining += back
            give -= back
        assert give == 0

    def expirable(self, wallet: str, now: datetime) -> list[Lot]:
        return [lot for lot in self.lots[wallet] if lot.remaining and lot.expired(now)]

    def lot_view(self, wallet: str) -> list[tuple[uuid.UUID, int, datetime | None]]:
        """What `ledger.lots` should list: open lots, oldest-expiring first."""
        live = sorted((lot for lot in self.lots[wallet] if lot.remaining), key=Lot.sort_key)
        return [(lot.entry_id, lot.remaining, lot.expires_at) for lot in live]


# --- the machine ---------------------------------------------------------------------------

index = st.integers(min_value=0, max_value=1_000)  # picks among existing things, modulo
percent = st.one_of(st.none(), st.integers(min_value=1, max_value=100))  # None: in full
# Small amounts, so that equal amounts and exact fits (where off-by-ones live) come up often.
points = st.integers(min_value=1, max_value=12)


def pick(items: list[T], i: int) -> T:
    return items[i % len(items)]


def part(full: int, pct: int | None) -> int | None:
    return None if pct is None else max(1, full * pct // 100)


def machine_for(loop: asyncio.AbstractEventLoop, engine: AsyncEngine) -> type:
    """The state machine class, bound to the loop and engine it runs the ledger on."""

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            run = uuid.uuid4().hex[:10]
            self.asset = f"S{run.upper()}"
            self.prefix = f"sm-{run}"
            self.issuer = f"{self.prefix}:issuer"
            self.sink = f"{self.prefix}:sink"
            self.held = f"ledger:held:{self.asset}"
            self.expired = f"ledger:expired:{self.asset}"
            self.model = Model([f"{self.prefix}:wallet:{n}" for n in range(WALLETS)])
            self.keys = itertools.count(1)
            self.transfers: list[Transfer] = []
            self.holds: list[Hold] = []
            self.others: list[uuid.UUID] = []  # entries that are not transfers
            self.used_keys: list[str] = []
            self.steps = 0
            self.clock = ExitStack()
            self.clock.enter_context(clock.frozen(START))
            self.connection = loop.run_until_complete(engine.connect())
            self.transaction = loop.run_until_complete(self.connection.begin())
            self.session = AsyncSession(
                bind=self.connection,
                join_transaction_mode="create_savepoint",
                expire_on_commit=False,
            )
            self.run(self._open_accounts())

        async def _open_accounts(self) -> None:
            s, asset = self.session, self.asset
            await ledger.open_account(s, code=self.issuer, asset=asset)
            await ledger.open_account(s, code=self.sink, asset=asset)
            # The ledger opens these on first use; opening them up front (with the flags it
            # would give them) keeps every check below free of "not opened yet" cases.
            await ledger.open_account(s, code=self.held, asset=asset)
            await ledger.open_account(s, code=self.expired, asset=asset)
            flags = AccountFlags.NO_NEGATIVE | AccountFlags.LOTS
            for wallet in self.model.wallets:
                await ledger.open_account(s, code=wallet, asset=asset, flags=flags)

        def teardown(self) -> None:
            try:
                if sys.exc_info()[0] is None:  # not while a failing step unwinds
                    report = self.run(ledger.verify(self.session))
                    assert report.ok, report.violations
            finally:
                self.clock.close()
                loop.run_until_complete(self._close())

        async def _close(self) -> None:
            await self.session.close()
            await self.transaction.rollback()
            await self.connection.close()

        # --- running ledger calls ---------------------------------------------------------

        def run(self, awaitable: Awaitable[T]) -> T:
            return loop.run_until_complete(awaitable)

        def call(
            self, expected: type[LedgerError] | None, fn: Callable[..., Awaitable[T]], **kw: Any
        ) -> T | None:
            """Call `fn(session, **kw)` in a savepoint; it must refuse with `expected`, or not."""

            async def attempt() -> T:
                async with self.session.begin_nested():
                    return await fn(self.session, **kw)

            try:
                result, refusal = self.run(attempt()), None
            except LedgerError as exc:
                result, refusal = None, exc
            outcome = type(refusal).__name__ if refusal else "ok"
            assert outcome == (expected.__name__ if expected else "ok"), (
                f"{fn.__name__}: expected {expected.__name__ if expected else 'success'}, "
                f"got {refusal!r} {refusal.extensions if refusal else ''}"
            )
            event(f"{fn.__name__}: {outcome}")
            return result

        def key(self, what: str) -> str:
            return f"{self.prefix}:{what}:{next(self.keys)}"

        @property
        def now(self) -> datetime:
            return clock.now()

        def wallet(self, i: int) -> str:
            return pick(self.model.wallets, i)

        # --- transfers --------------------------------------------------------------------

        @initialize(
            awards=st.lists(
                st.tuples(index, st.integers(5, 20), st.sampled_from(LOT_EXPIRY)),
                min_size=WALLETS,
                max_size=2 * WALLETS,
            )
        )
        def fund(self, awards: list[tuple[int, int, timedelta | None]]) -> None:
            for wallet, amount, expiry in awards:
                self.award(wallet, amount, expiry)

        def _transfer(
            self,
            kind: str,
            source: str,
            destination: str,
            amount: int,
            expires_at: datetime | None,
        ) -> None:
            m, now = self.model, self.now
            request = {
                "key": self.key(kind),
                "actor": f"staff:{kind}",
                "postings": [
                    PostingIn(account=source, amount=-amount),
                    PostingIn(account=destination, amount=amount, expires_at=expires_at),
                ],
            }
            debits_wallet = source in m.lots
            if source == destination:
                expected: type[LedgerError] | None = InvalidEntry
            elif debits_wallet and m.spendable(source, now) < amount:
                expected = InsufficientBalance
            else:
                expected = None
            out = self.call(expected, ledger.post_entry, **request)
            if out is None:
                return
            assert not out.replayed
            consumed = m.consume(source, amount, now) if debits_wallet else []
            lot = None
            if destination in m.lots:
                lot = m.open_lot(destination, out.id, amount, expires_at)
            if source == self.issuer:
                m.issuer -= amount
            if destination == self.sink:
                m.sink += amount
            self.transfers.append(Transfer(out.id, out.key, kind, amount, request, consumed, lot))
            self.used_keys.append(out.key)

        @rule(wallet=index, amount=st.integers(1, 20), expiry=st.sampled_from(LOT_EXPIRY))
        def award(self, wallet: int, amount: int, expiry: timedelta | None) -> None:
            expires_at = self.now + expiry if expiry else None
            self._transfer("award", self.issuer, self.wallet(wallet), amount, expires_at)

        @rule(wallet=index, amount=points)
        def spend(self, wallet: int, amount: int) -> None:
            self._transfer("spend", self.wallet(wallet), self.sink, amount, None)

        @rule(
            source=index,
            destination=index,
            amount=points,
            expiry=st.sampled_from(LOT_EXPIRY),
        )
        def transfer(
            self, source: int, destination: int, amount: int, expiry: timedelta | None
        ) -> None:
            expires_at = self.now + expiry if expiry else None
            self._transfer(
                "transfer", self.wallet(source), self.wallet(destination), amount, expires_at
            )

        # --- reversals --------------------------------------------------------------------

        @precondition(lambda self: self.transfers)
        @rule(which=index, pct=percent, of=st.sampled_from(["transfer"] * 4 + ["other"]))
        def reverse(self, which: int, pct: int | None, of: str) -> None:
            if of == "other" and self.others:  # a hold, resolution or reversal entry
                other = pick(self.others, which)
                key = self.key("reversal")
                self.call(NotReversible, ledger.reverse, entry_id=other, key=key, actor="a:sm")
                return
            t = pick(self.transfers, which)
            amount = part(t.amount, pct)
            back = amount or t.amount
            now = self.now
            if t.reversal is not None:
                expected: type[LedgerError] | None = AlreadyReversed
            elif t.lot is not None and (0 if t.lot.expired(now) else t.lot.remaining) < back:
                expected = ReversalExceedsRemaining
            else:
                expected = None
            key = self.key("reversal")
            out = self.call(
                expected,
                ledger.reverse,
                entry_id=t.id,
                key=key,
                actor="approver:sm",
                amount=amount,
            )
            if out is None:
                return
            assert (out.kind, out.reverses_id, out.replayed) == ("reversal", t.id, False)
            m = self.model
            if t.lot is not None:
                t.lot.remaining -= back
            if t.consumed:  # the entry debited a wallet
                Model.restore(t.consumed, back)
            if t.kind == "award":
                m.issuer += back
            if t.kind == "spend":
                m.sink -= back
            t.reversal = (key, amount, out.id)
            self.others.append(out.id)
            self.used_keys.append(key)

        # --- holds ------------------------------------------------------------------------

        @rule(wallet=index, amount=points, timeout=st.sampled_from(HOLD_TIMEOUT))
        def hold(self, wallet: int, amount: int, timeout: timedelta) -> None:
            m, now = self.model, self.now
            source = self.wallet(wallet)
            request = {
                "key": self.key("hold"),
                "source": source,
                "amount": amount,
                "expires_at": now + timeout,
                "actor": "resident:sm",
            }
            short = m.spendable(source, now) < amount
            out = self.call(InsufficientBalance if short else None, ledger.hold, **request)
            if out is None:
                return
            assert (out.status, out.amount, out.posted_amount) == ("pending", amount, 0)
            consumed = m.consume(source, amount, now)
            m.held += amount
            self.holds.append(
                Hold(out.id, out.key, source, amount, out.expires_at, request, consumed)
            )
            self.others.append(out.entry_id)
            self.used_keys.append(out.key)

        def _settled(self, h: Hold, key: str, request: tuple[Any, ...]) -> type[LedgerError] | None:
            """What resolving a hold that is no longer pending gives: a replay (None) or not."""
            assert h.resolution is not None
            if key != h.resolution[0]:
                return HoldNotPending
            if request == h.resolution[1]:
                return None
            # The same key, other content: the caller's own key reused is a conflict; one the
            # ledger derived (hold:<id>:post|void|timeout) only means someone else was first.
            return HoldNotPending if key.startswith(f"hold:{h.id}:") else IdempotencyConflict

        def _post(self, h: Hold, target: str, amount: int | None, key: str | None) -> None:
            actual_key = key or f"hold:{h.id}:post"
            request = ("post", target, amount or h.amount, "merchant:sm")
            if h.status == "pending" and h.expires_at <= self.now:
                expected: type[LedgerError] | None = HoldExpired
            elif target == h.wallet:
                expected = InvalidEntry
            elif h.status != "pending":
                expected = self._settled(h, actual_key, request)
            else:
                expected = None
            out = self.call(
                expected,
                ledger.post_hold,
                hold_id=h.id,
                key=key,
                destination=target,
                amount=amount,
                actor="merchant:sm",
            )
            if out is None:
                return
            if h.status != "pending":  # a replay
                assert (out.status, out.resolution_entry_id) == (h.status, h.resolution_entry_id)
                return
            posted = amount or h.amount
            assert (out.status, out.posted_amount) == ("posted", posted)
            assert out.resolution_entry_id is not None
            m = self.model
            m.held -= h.amount
            Model.restore(h.consumed, h.amount - posted)
            if target == self.sink:
                m.sink += posted
            else:
                m.open_lot(target, out.resolution_entry_id, posted, None)
            self._resolved(h, "posted", actual_key, request, out.resolution_entry_id)

        def _void(self, h: Hold, key: str | None, actor: str = "resident:sm") -> None:
            actual_key = key or f"hold:{h.id}:void"
            request = ("void", actor)
            expected = self._settled(h, actual_key, request) if h.status != "pending" else None
            out = self.call(expected, ledger.void_hold, hold_id=h.id, key=key, actor=actor)
            if out is None:
                return
            if h.status != "pending":  # a replay
                assert (out.status, out.resolution_entry_id) == (h.status, h.resolution_entry_id)
                return
            assert out.status == "voided"  # even once overdue, until the sweep
            assert out.resolution_entry_id is not None
            self.model.held -= h.amount
            Model.restore(h.consumed, h.amount)
            self._resolved(h, "voided", actual_key, request, out.resolution_entry_id)

        def _resolved(
            self, h: Hold, status: str, key: str, request: tuple[Any, ...], entry_id: uuid.UUID
        ) -> None:
            h.status, h.resolution, h.resolution_entry_id = status, (key, request), entry_id
            self.others.append(entry_id)
            self.used_keys.append(key)

        @precondition(lambda self: self.holds)
        @rule(which=index, destination=index, pct=percent, own_key=st.booleans())
        def post_hold(self, which: int, destination: int, pct: int | None, own_key: bool) -> None:
            h = pick(self.holds, which)
            # The sink, or one of the wallets (the hold's own: refused).
            target = pick([self.sink, *self.model.wallets], destination)
            self._post(h, target, part(h.amount, pct), self.key("post") if own_key else None)

        @precondition(lambda self: self.holds)
        @rule(which=index, own_key=st.booleans())
        def void_hold(self, which: int, own_key: bool) -> None:
            h = pick(self.holds, which)
            self._void(h, self.key("void") if own_key else None)

        @rule()
        def expire_holds(self) -> None:
            now = self.now
            overdue = [h for h in self.holds if h.status == "pending" and h.expires_at <= now]
            count = self.call(None, ledger.expire_holds)
            assert count == len(overdue)
            for h in overdue:
                out = self.run(ledger.get_hold(self.session, hold_id=h.id))
                assert out.status == "expired"
                assert out.resolution_entry_id is not None
                self.model.held -= h.amount
                Model.restore(h.consumed, h.amount)
                key = f"hold:{h.id}:timeout"
                self._resolved(h, "expired", key, ("timeout",), out.resolution_entry_id)

        # --- replays ----------------------------------------------------------------------

        @rule(
            what=st.sampled_from(["transfer", "hold", "reversal", "resolution"]),
            which=index,
            same=st.booleans(),
        )
        def replay(self, what: str, which: int, same: bool) -> None:
            """An earlier request again under its key: the same one, or another one."""
            getattr(self, f"_replay_{what}")(which, same)

        def _replay_resolution(self, which: int, same: bool) -> None:
            settled = [h for h in self.holds if h.resolution]
            if not settled:
                return
            h = pick(settled, which)
            assert h.resolution is not None
            key, request = h.resolution
            if request[0] == "post":
                _, target, amount, _ = request
                self._post(h, target, amount if same else max(1, amount - 1), key)
            elif request[0] == "void":
                self._void(h, key, actor=request[1] if same else "someone:else")
            else:  # a timeout's key, asked for a void
                self._void(h, key)

        def _replay_transfer(self, which: int, same: bool) -> None:
            if not self.transfers:
                return
            t = pick(self.transfers, which)  # its lot's expiry may have passed since: fine
            request = t.request if same else {**t.request, "actor": "someone:else"}
            out = self.call(None if same else IdempotencyConflict, ledger.post_entry, **request)
            if out is not None:
                assert (out.id, out.replayed) == (t.id, True)

        def _replay_hold(self, which: int, same: bool) -> None:
            if not self.holds:
                return
            h = pick(self.holds, which)
            request = h.request if same else {**h.request, "amount": h.amount + 1}
            out = self.call(None if same else IdempotencyConflict, ledger.hold, **request)
            if out is not None:
                assert (out.id, out.status) == (h.id, h.status)

        def _replay_reversal(self, which: int, same: bool) -> None:
            reversed_ = [t for t in self.transfers if t.reversal]
            if not reversed_:
                return
            t = pick(reversed_, which)
            assert t.reversal is not None
            key, amount, reversal_id = t.reversal
            out = self.call(
                None if same else IdempotencyConflict,
                ledger.reverse,
                entry_id=t.id,
                key=key,
                actor="approver:sm",
                amount=amount,
                memo="" if same else "changed",
            )
            if out is not None:
                assert (out.id, out.replayed) == (reversal_id, True)

        @precondition(lambda self: self.used_keys)
        @rule(which=index, wallet=index, op=st.sampled_from(["spend", "award", "hold"]))
        def reuse_key(self, which: int, wallet: int, op: str) -> None:
            """Any key already taken, for a different request: refused before anything moves."""
            key, target = pick(self.used_keys, which), self.wallet(wallet)
            if op == "hold":
                until = self.now + timedelta(hours=1)
                self.call(
                    IdempotencyConflict,
                    ledger.hold,
                    key=key,
                    source=target,
                    amount=1,
                    expires_at=until,
                    actor="resident:reuse",
                )
                return
            source, destination = (target, self.sink) if op == "spend" else (self.issuer, target)
            self.call(
                IdempotencyConflict,
                ledger.post_entry,
                key=key,
                actor="resident:reuse",
                postings=[
                    PostingIn(account=source, amount=-1),
                    PostingIn(account=destination, amount=1),
                ],
            )

        # --- time and expiry --------------------------------------------------------------

        @rule(by=st.sampled_from(CLOCK_STEP))
        def advance(self, by: timedelta) -> None:
            clock.advance(by)

        @rule()
        def expire(self) -> None:
            m, now = self.model, self.now
            due = {w: m.expirable(w, now) for w in m.wallets}
            due = {w: lots for w, lots in due.items() if lots}
            result = self.call(None, ledger.expire)
            assert result is not None
            amount = sum(lot.remaining for lots in due.values() for lot in lots)
            assert (result.entries, result.amount) == (len(due), amount)
            for lots in due.values():
                for lot in lots:
                    lot.remaining = 0
            m.expired += amount

        # --- invariants -------------------------------------------------------------------

        @invariant()
        def ledger_matches_the_model(self) -> None:
            self.run(self._check())

        async def _check(self) -> None:
            s, m = self.session, self.model
            for wallet in m.wallets:
                balance = await ledger.balance(s, account=wallet)
                lots = await ledger.lots(s, account=wallet)
                assert balance >= 0
                assert balance == sum(lot.remaining for lot in lots), wallet
                assert balance == m.balance(wallet), wallet
                seen = [(lot.entry_id, lot.remaining, lot.expires_at) for lot in lots]
                assert seen == m.lot_view(wallet), wallet
            accounts = {
                a.code: a.balance
                for a in await ledger.balances(s, prefix="")
                if a.asset == self.asset
            }
            expected = {
                self.issuer: m.issuer,
                self.sink: m.sink,
                self.held: m.held,
                self.expired: m.expired,
                **{w: m.balance(w) for w in m.wallets},
            }
            assert accounts == expected
            assert sum(expected.values()) == 0  # so the ledger's own sum is zero too
            assert m.held == sum(h.amount for h in self.holds if h.status == "pending")
            self.steps += 1
            if self.steps % VERIFY_EVERY == 0:
                report = await ledger.verify(s)
                assert report.ok, report.violations

    return LedgerMachine


def test_ledger_behaves_like_its_model(database: Database, settings: Settings) -> None:
    # A sync test: the suite's event loop is idle meanwhile, so the machine runs its own loop
    # and engine (connections belong to the loop that opened them).
    loop = asyncio.new_event_loop()
    engine = make_engine(settings.database_url)
    try:
        run_state_machine_as_test(
            machine_for(loop, engine),
            settings=hypothesis_settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


# --- bugs the machine found, reduced to their smallest reproduction --------------------------


async def test_expiry_sweeps_points_restored_into_an_expired_lot(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    with clock.frozen(START):
        await award(session, wallet, 10, expires_at=START + timedelta(days=1))
        purchase = await spend(session, wallet, 5)
        clock.advance(timedelta(days=2))
        assert (await ledger.expire(session)).amount == 5  # lot: 5 left, swept
        await ledger.reverse(session, entry_id=purchase.id, key="refund", actor="merchant:1")
        assert await ledger.balance(session, account=wallet) == 5  # back in the expired lot

        again = await ledger.expire(session)

        assert (again.entries, again.amount) == (1, 5)
        assert await ledger.balance(session, account=wallet) == 0  # a repeat of the same lot
        assert await ledger.balance(session, account="ledger:expired:PT") == 10


@pytest.mark.parametrize(
    "what",
    ["award", "hold"],
)
async def test_replaying_a_request_after_its_expiry_has_passed(session, what):
    await make_issuer(session)
    wallet = await make_wallet(session)
    with clock.frozen(START):
        await award(session, wallet, 10, expires_in=None)
        expires_at = START + timedelta(hours=1)

        async def request():
            if what == "award":
                return await award(session, wallet, 5, expires_at=expires_at, entry_key="a")
            return await ledger.hold(
                session, key="h", source=wallet, amount=5, expires_at=expires_at, actor="r"
            )

        first = await request()
        clock.advance(timedelta(hours=2))

        again = await request()

        assert again.id == first.id
