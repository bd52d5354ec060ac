"""Expiry lots of LOTS accounts: which lots a credit opens and which a debit consumes.

Runs after the account's balance row has been updated (and so locked) in the same transaction,
so no two writers consume the same lots at once."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import new_id
from ledger import repository as repo
from ledger.errors import InsufficientBalance, LedgerError, ReversalExceedsRemaining

if TYPE_CHECKING:
    from ledger.service.engine import PlannedPosting


@dataclass(slots=True)
class LotState:
    id: uuid.UUID
    account_id: uuid.UUID
    entry_id: uuid.UUID
    amount: int
    remaining: int
    expires_at: datetime | None
    created_at: datetime
    loaded_remaining: int | None  # None for lots opened in this transaction

    def order(self) -> tuple[bool, datetime, datetime, str]:
        far = self.created_at.replace(year=9999)
        return (self.expires_at is None, self.expires_at or far, self.created_at, str(self.id))

    def usable(self, now: datetime) -> bool:
        return self.remaining > 0 and (self.expires_at is None or self.expires_at > now)


def _state(row: Any) -> LotState:
    return LotState(
        row.id,
        row.account_id,
        row.entry_id,
        row.amount,
        row.remaining,
        row.expires_at,
        row.created_at,
        row.remaining,
    )


class LotBook:
    """The lots touched by one batch, changed in memory and written back once."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.lots: dict[uuid.UUID, LotState] = {}
        self.open: dict[uuid.UUID, list[LotState]] = defaultdict(list)
        self.restorable: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[uuid.UUID, int]]] = {}
        self.uses: list[dict[str, Any]] = []

    @classmethod
    async def load(
        cls, session: AsyncSession, work: list[tuple[Any, PlannedPosting]], now: datetime
    ) -> LotBook:
        book = cls(now)
        fifo = {p.account.id for _, p in work if p.lots and p.lots.mode == "fifo"}
        for row in await repo.open_lots(session, sorted(fifo)) if fifo else []:
            book._track(row)
        targeted = {i for _, p in work if p.lots for i in p.lots.lot_ids}
        for row in await repo.lots_by_ids(session, sorted(targeted)) if targeted else []:
            book._track(row)
        for _, posting in work:
            plan = posting.lots
            if plan and plan.mode == "restore" and plan.source_entry_id is not None:
                await book._load_restorable(session, plan.source_entry_id, posting.account.id)
        return book

    def _track(self, row: Any) -> LotState:
        if row.id not in self.lots:
            lot = _state(row)
            self.lots[lot.id] = lot
            if lot.remaining > 0:
                self.open[lot.account_id].append(lot)
        return self.lots[row.id]

    async def _load_restorable(
        self, session: AsyncSession, source: uuid.UUID, account_id: uuid.UUID
    ) -> None:
        uses = [u for u in await repo.lot_uses_of(session, source) if u.account_id == account_id]
        rows = await repo.lots_by_ids(session, [u.lot_id for u in uses])
        for row in rows:
            self._track(row)
        consumed = [(u.lot_id, u.amount) for u in uses if u.amount > 0]
        # Give back the latest-expiring points first: spending took the oldest.
        consumed.sort(key=lambda use: self.lots[use[0]].order(), reverse=True)
        self.restorable[(source, account_id)] = consumed

    def apply(self, entry_id: uuid.UUID, posting: PlannedPosting) -> None:
        plan = posting.lots
        assert plan is not None
        if plan.mode == "new":
            self._open_lot(entry_id, posting, plan.expires_at)
        elif plan.mode == "fifo":
            self._consume_fifo(entry_id, posting)
        elif plan.mode == "from_lots":
            self._consume_listed(entry_id, posting, plan.lot_ids)
        elif plan.mode == "restore":
            assert plan.source_entry_id is not None
            self._restore(entry_id, posting, plan.source_entry_id)
        else:
            raise LedgerError(f"Unknown lot plan {plan.mode!r}.")

    def _open_lot(
        self, entry_id: uuid.UUID, posting: PlannedPosting, expires: datetime | None
    ) -> None:
        lot = LotState(
            new_id(),
            posting.account.id,
            entry_id,
            posting.amount,
            posting.amount,
            expires,
            self.now,
            None,
        )
        self.lots[lot.id] = lot
        self.open[lot.account_id].append(lot)

    def _take(self, entry_id: uuid.UUID, lot: LotState, amount: int) -> None:
        lot.remaining -= amount
        self.uses.append({"entry_id": entry_id, "lot_id": lot.id, "amount": amount})

    def _consume_fifo(self, entry_id: uuid.UUID, posting: PlannedPosting) -> None:
        need = -posting.amount
        candidates = sorted(
            (lot for lot in self.open[posting.account.id] if lot.usable(self.now)),
            key=LotState.order,
        )
        available = sum(lot.remaining for lot in candidates)
        if available < need:
            raise InsufficientBalance(
                f"{posting.account.code} has {available} {posting.account.asset} that have not "
                f"expired; {need} needed.",
                account=posting.account.code,
                balance=available,
                requested=need,
            )
        for lot in candidates:
            if need == 0:
                break
            take = min(lot.remaining, need)
            self._take(entry_id, lot, take)
            need -= take

    def _consume_listed(
        self, entry_id: uuid.UUID, posting: PlannedPosting, lot_ids: tuple[uuid.UUID, ...]
    ) -> None:
        need = -posting.amount
        lots = [self.lots[i] for i in lot_ids if i in self.lots]
        remaining = sum(lot.remaining for lot in lots)
        if remaining < need:
            raise ReversalExceedsRemaining(
                f"Only {remaining} of these {posting.account.asset} remain unspent and unexpired "
                f"on {posting.account.code}; {need} requested.",
                account=posting.account.code,
                remaining=remaining,
                requested=need,
            )
        for lot in lots:
            if need == 0:
                break
            take = min(lot.remaining, need)
            if take > 0:
                self._take(entry_id, lot, take)
                need -= take

    def _restore(self, entry_id: uuid.UUID, posting: PlannedPosting, source: uuid.UUID) -> None:
        give = posting.amount
        for lot_id, consumed in self.restorable.get((source, posting.account.id), []):
            if give == 0:
                break
            back = min(consumed, give)
            lot = self.lots[lot_id]
            lot.remaining += back
            if lot not in self.open[lot.account_id]:
                self.open[lot.account_id].append(lot)
            self.uses.append({"entry_id": entry_id, "lot_id": lot_id, "amount": -back})
            give -= back
        if give:
            raise LedgerError(
                "The lots to restore do not cover the amount.", account=posting.account.code
            )

    async def save(self, session: AsyncSession, now: datetime) -> None:
        new = [lot for lot in self.lots.values() if lot.loaded_remaining is None]
        changed = {
            lot.id: lot.remaining
            for lot in self.lots.values()
            if lot.loaded_remaining is not None and lot.remaining != lot.loaded_remaining
        }
        await repo.insert_lots(
            session,
            [
                {
                    "id": lot.id,
                    "account_id": lot.account_id,
                    "entry_id": lot.entry_id,
                    "amount": lot.amount,
                    "remaining": lot.remaining,
                    "expires_at": lot.expires_at,
                    "created_at": now,
                }
                for lot in new
            ],
        )
        await repo.set_lot_remaining(session, changed)
        await repo.insert_lot_uses(session, self.uses)
