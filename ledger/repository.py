"""The ledger's SQL. Services call these; nothing else builds ledger queries."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import upsert
from ledger.models import Account, AccountFlags, Checkpoint, Entry, Hold, Lot, LotUse, Posting

account_t = Account.metadata.tables["ledger_account"]
entry_t = Entry.metadata.tables["ledger_entry"]
posting_t = Posting.metadata.tables["ledger_posting"]
lot_t = Lot.metadata.tables["ledger_lot"]
lot_use_t = LotUse.metadata.tables["ledger_lot_use"]
hold_t = Hold.metadata.tables["ledger_hold"]
checkpoint_t = Checkpoint.metadata.tables["ledger_checkpoint"]


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: uuid.UUID
    code: str
    asset: str
    flags: int

    @property
    def materialised(self) -> bool:
        return bool(self.flags & AccountFlags.NO_NEGATIVE)

    @property
    def lots(self) -> bool:
        return bool(self.flags & AccountFlags.LOTS)


def dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# accounts


async def insert_account_if_absent(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(upsert(session, account_t).on_conflict_do_nothing(), [row])


async def insert_accounts_if_absent(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many accounts, one multi-row INSERT per chunk (not one round trip per account)."""
    for chunk in _chunks(rows, 1000):
        statement = upsert(session, account_t).on_conflict_do_nothing().values(chunk)
        await session.execute(statement)


async def accounts_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, AccountRef]:
    codes = list(set(codes))
    result: dict[str, AccountRef] = {}
    for chunk in _chunks(codes, 5000):
        rows = await session.execute(
            select(account_t.c.id, account_t.c.code, account_t.c.asset, account_t.c.flags).where(
                account_t.c.code.in_(chunk)
            )
        )
        for r in rows:
            result[r.code] = AccountRef(r.id, r.code, r.asset, r.flags)
    return result


async def accounts_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, AccountRef]:
    rows = await session.execute(
        select(account_t.c.id, account_t.c.code, account_t.c.asset, account_t.c.flags).where(
            account_t.c.id.in_(list(set(ids)))
        )
    )
    return {r.id: AccountRef(r.id, r.code, r.asset, r.flags) for r in rows}


async def account_row(session: AsyncSession, code: str) -> Any:
    return (await session.execute(select(account_t).where(account_t.c.code == code))).first()


async def accounts_with_prefix(session: AsyncSession, prefix: str) -> Sequence[Any]:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await session.execute(
        select(account_t)
        .where(account_t.c.code.like(escaped + "%", escape="\\"))
        .order_by(account_t.c.code)
    )
    return rows.all()


async def add_to_balance(session: AsyncSession, account_id: uuid.UUID, delta: int) -> int | None:
    """Apply `delta` unless the balance would drop below zero; the new balance, or None."""
    stmt = update(account_t).where(account_t.c.id == account_id)
    if delta < 0:
        stmt = stmt.where(account_t.c.balance + delta >= 0)
    row = (
        await session.execute(
            stmt.values(balance=account_t.c.balance + delta).returning(account_t.c.balance)
        )
    ).first()
    return None if row is None else int(row[0])


async def add_to_balances_pg(
    session: AsyncSession, deltas: dict[uuid.UUID, int]
) -> dict[uuid.UUID, int]:
    """Many balances in two statements: lock rows in id order, then one UPDATE … FROM unnest."""
    ids = sorted(deltas)
    await session.execute(
        text("SELECT id FROM ledger_account WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": ids},
    )
    rows = await session.execute(
        text(
            "UPDATE ledger_account AS a SET balance = a.balance + v.delta "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:deltas AS bigint[])) AS v(id, delta) "
            "WHERE a.id = v.id RETURNING a.id, a.balance"
        ),
        {"ids": ids, "deltas": [deltas[i] for i in ids]},
    )
    return {r.id: int(r.balance) for r in rows}


async def lock_accounts(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> None:
    """Row locks in id order, the one order every writer uses (SQLite: the database lock)."""
    if dialect(session) == "postgresql":
        await session.execute(
            select(account_t.c.id)
            .where(account_t.c.id.in_(account_ids))
            .order_by(account_t.c.id)
            .with_for_update()
        )


async def stored_balance(session: AsyncSession, account_id: uuid.UUID) -> int | None:
    row = (
        await session.execute(select(account_t.c.balance).where(account_t.c.id == account_id))
    ).first()
    return None if row is None or row[0] is None else int(row[0])


async def sum_postings(
    session: AsyncSession, account_id: uuid.UUID, *, as_of: datetime | None = None
) -> int:
    stmt = select(func.coalesce(func.sum(posting_t.c.amount), 0)).where(
        posting_t.c.account_id == account_id
    )
    if as_of is not None:
        stmt = stmt.where(posting_t.c.created_at <= as_of)
    return int((await session.execute(stmt)).scalar_one())


async def balance_after_at(session: AsyncSession, account_id: uuid.UUID, as_of: datetime) -> int:
    row = (
        await session.execute(
            select(posting_t.c.balance_after)
            .where(posting_t.c.account_id == account_id, posting_t.c.created_at <= as_of)
            .order_by(posting_t.c.created_at.desc(), posting_t.c.seq.desc())
            .limit(1)
        )
    ).first()
    return 0 if row is None else int(row[0])


# entries and postings


async def insert_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert entries whose key (and reversal target) is still free; their key → seq."""
    if not rows:
        return {}
    stmt = upsert(session, entry_t).on_conflict_do_nothing().returning(entry_t.c.key, entry_t.c.seq)
    result = await session.execute(stmt, rows)
    return {r.key: int(r.seq) for r in result}


async def insert_postings(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await _insert_rows(session, posting_t, rows, _POSTING_TYPES)


async def entries_by_keys(session: AsyncSession, keys: Sequence[str]) -> Sequence[Any]:
    return (await session.execute(select(entry_t).where(entry_t.c.key.in_(keys)))).all()


async def entry_by_id(session: AsyncSession, entry_id: uuid.UUID) -> Any:
    return (await session.execute(select(entry_t).where(entry_t.c.id == entry_id))).first()


async def entry_reversing(session: AsyncSession, entry_id: uuid.UUID) -> Any:
    return (await session.execute(select(entry_t).where(entry_t.c.reverses_id == entry_id))).first()


async def postings_of(session: AsyncSession, entry_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    rows = await session.execute(
        select(posting_t, account_t.c.code)
        .join(account_t, account_t.c.id == posting_t.c.account_id)
        .where(posting_t.c.entry_id.in_(entry_ids))
        .order_by(posting_t.c.seq)
    )
    return rows.all()


async def statement_rows(
    session: AsyncSession, account_id: uuid.UUID, *, before_seq: int | None, limit: int
) -> Sequence[Any]:
    """One page, newest first. The page's seqs come from the (account_id, seq) index alone;
    only then are postings and entries joined, so a page costs the same at any history length
    (left to itself the planner may walk the whole postings table backwards for a busy wallet)."""
    page = (
        select(posting_t.c.seq)
        .where(posting_t.c.account_id == account_id)
        .order_by(posting_t.c.seq.desc())
        .limit(limit)
    )
    if before_seq is not None:
        page = page.where(posting_t.c.seq < before_seq)
    page_seqs = page.subquery("page")
    stmt = (
        select(
            posting_t.c.seq,
            posting_t.c.amount,
            posting_t.c.balance_after,
            posting_t.c.created_at,
            entry_t.c.id.label("entry_id"),
            entry_t.c.key,
            entry_t.c.kind,
            entry_t.c.memo,
            entry_t.c.effective_at,
        )
        .select_from(page_seqs)
        .join(posting_t, posting_t.c.seq == page_seqs.c.seq)
        .join(entry_t, entry_t.c.id == posting_t.c.entry_id)
        .order_by(posting_t.c.seq.desc())
    )
    return (await session.execute(stmt)).all()


async def sum_postings_through(session: AsyncSession, account_id: uuid.UUID, seq: int) -> int:
    stmt = select(func.coalesce(func.sum(posting_t.c.amount), 0)).where(
        posting_t.c.account_id == account_id, posting_t.c.seq <= seq
    )
    return int((await session.execute(stmt)).scalar_one())


# lots


def _expiry_order() -> list[Any]:
    # Oldest-expiring first; lots that never expire last.
    return [lot_t.c.expires_at.is_(None), lot_t.c.expires_at, lot_t.c.created_at, lot_t.c.id]


async def open_lots(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    rows = await session.execute(
        select(lot_t)
        .where(lot_t.c.account_id.in_(account_ids), lot_t.c.remaining > 0)
        .order_by(*_expiry_order())
    )
    return rows.all()


async def lots_by_ids(session: AsyncSession, lot_ids: Sequence[uuid.UUID]) -> Sequence[Any]:
    return (
        await session.execute(
            select(lot_t).where(lot_t.c.id.in_(lot_ids)).order_by(*_expiry_order())
        )
    ).all()


async def lots_of_account(
    session: AsyncSession, account_id: uuid.UUID, *, include_spent: bool
) -> Sequence[Any]:
    stmt = select(lot_t).where(lot_t.c.account_id == account_id).order_by(*_expiry_order())
    if not include_spent:
        stmt = stmt.where(lot_t.c.remaining > 0)
    return (await session.execute(stmt)).all()


async def lots_created_by(
    session: AsyncSession, entry_id: uuid.UUID, account_id: uuid.UUID
) -> Sequence[Any]:
    rows = await session.execute(
        select(lot_t).where(lot_t.c.entry_id == entry_id, lot_t.c.account_id == account_id)
    )
    return rows.all()


async def lot_uses_of(session: AsyncSession, entry_id: uuid.UUID) -> Sequence[Any]:
    rows = await session.execute(
        select(lot_use_t.c.lot_id, lot_use_t.c.amount, lot_t.c.account_id, lot_t.c.expires_at)
        .join(lot_t, lot_t.c.id == lot_use_t.c.lot_id)
        .where(lot_use_t.c.entry_id == entry_id)
    )
    return rows.all()


async def insert_lots(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await _insert_rows(session, lot_t, rows, _LOT_TYPES)


async def set_lot_remaining(session: AsyncSession, remaining: dict[uuid.UUID, int]) -> None:
    if remaining:
        await session.execute(
            update(lot_t)
            .where(lot_t.c.id == bindparam("lot_id"))
            .values(remaining=bindparam("rem")),
            [{"lot_id": k, "rem": v} for k, v in remaining.items()],
        )


async def insert_lot_uses(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(lot_use_t), rows)


async def accounts_with_expired_lots(
    session: AsyncSession, now: datetime, limit: int
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(lot_t.c.account_id)
        .where(lot_t.c.expires_at <= now, lot_t.c.remaining > 0)
        .group_by(lot_t.c.account_id)
        .order_by(lot_t.c.account_id)
        .limit(limit)
    )
    return [r[0] for r in rows]


async def expired_lots(
    session: AsyncSession, account_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[Any]]:
    """Expired lots with something left, by account, oldest-expiring first."""
    rows = await session.execute(
        select(lot_t.c.id, lot_t.c.account_id, lot_t.c.remaining)
        .where(
            lot_t.c.account_id.in_(account_ids), lot_t.c.expires_at <= now, lot_t.c.remaining > 0
        )
        .order_by(*_expiry_order())
    )
    grouped: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.account_id, []).append(row)
    return grouped


# holds


async def insert_hold(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(insert(hold_t), [row])


async def hold_by_id(session: AsyncSession, hold_id: uuid.UUID) -> Any:
    return (await session.execute(select(hold_t).where(hold_t.c.id == hold_id))).first()


async def hold_by_entry(session: AsyncSession, entry_id: uuid.UUID) -> Any:
    return (await session.execute(select(hold_t).where(hold_t.c.entry_id == entry_id))).first()


async def resolve_hold(
    session: AsyncSession,
    hold_id: uuid.UUID,
    *,
    status: str,
    posted_amount: int,
    resolution_entry_id: uuid.UUID,
    resolved_at: datetime,
) -> bool:
    """Move a pending hold to its final state; False if it was no longer pending."""
    result = await session.execute(
        update(hold_t)
        .where(hold_t.c.id == hold_id, hold_t.c.status == "pending")
        .values(
            status=status,
            posted_amount=posted_amount,
            resolution_entry_id=resolution_entry_id,
            resolved_at=resolved_at,
        )
        .returning(hold_t.c.id)
    )
    return result.first() is not None


async def lock_overdue_holds(session: AsyncSession, now: datetime, limit: int) -> Sequence[Any]:
    """Pending holds past their timeout, locked in id order; ones locked elsewhere are skipped."""
    stmt = (
        select(hold_t)
        .where(hold_t.c.status == "pending", hold_t.c.expires_at <= now)
        .order_by(hold_t.c.id)
        .limit(limit)
    )
    if dialect(session) == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.execute(stmt)).all()


# checkpoints


async def last_checkpoint(session: AsyncSession) -> Any:
    return (
        await session.execute(
            select(checkpoint_t).order_by(checkpoint_t.c.last_seq.desc()).limit(1)
        )
    ).first()


async def entry_hashes_between(
    session: AsyncSession, after_seq: int, through_seq: int, limit: int
) -> Sequence[Any]:
    rows = await session.execute(
        select(entry_t.c.seq, entry_t.c.hash)
        .where(entry_t.c.seq > after_seq, entry_t.c.seq <= through_seq)
        .order_by(entry_t.c.seq)
        .limit(limit)
    )
    return rows.all()


async def max_entry_seq(session: AsyncSession) -> int:
    return int(
        (await session.execute(select(func.coalesce(func.max(entry_t.c.seq), 0)))).scalar_one()
    )


async def insert_checkpoint(session: AsyncSession, row: dict[str, Any]) -> int:
    result = await session.execute(insert(checkpoint_t).returning(checkpoint_t.c.id), [row])
    return int(result.scalar_one())


# Column types for bulk inserts from arrays on PostgreSQL, in insert order.
_POSTING_TYPES = {
    "entry_id": "uuid",
    "account_id": "uuid",
    "asset": "varchar",
    "amount": "bigint",
    "balance_after": "bigint",
    "created_at": "timestamptz",
}
_LOT_TYPES = {
    "id": "uuid",
    "account_id": "uuid",
    "entry_id": "uuid",
    "amount": "bigint",
    "remaining": "bigint",
    "expires_at": "timestamptz",
    "created_at": "timestamptz",
}
_ARRAY_INSERT_FROM = 16


async def _insert_rows(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], types: dict[str, str]
) -> None:
    """Insert rows in order. Large batches on PostgreSQL go as one INSERT … SELECT FROM unnest
    of one array per column: one statement and one round trip however many rows."""
    if not rows:
        return
    if len(rows) < _ARRAY_INSERT_FROM or dialect(session) != "postgresql":
        await session.execute(insert(table), rows)
        return
    columns = list(types)
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in types.items())
    # Table and column names are this module's own constants, never input.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(columns)} FROM unnest({arrays}) "
        f"WITH ORDINALITY AS r({', '.join(columns)}, n) ORDER BY n"
    )
    await session.execute(text(sql), {c: [row[c] for row in rows] for c in columns})


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
