"""The verifier's queries: each returns the rows that break one invariant (at most a few)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.repository import checkpoint_t, entry_t, posting_t

SAMPLE = 20

# Each check: a name, a query returning offending rows, and how to describe one row.
CHECKS: list[tuple[str, str, str]] = [
    (
        "entry-balanced",
        "SELECT entry_id, asset, SUM(amount) AS total FROM ledger_posting "
        "GROUP BY entry_id, asset HAVING SUM(amount) <> 0",
        "entry {entry_id}: {asset} postings sum to {total}",
    ),
    (
        "entry-has-postings",
        "SELECT e.key, COUNT(p.seq) AS n FROM ledger_entry e "
        "LEFT JOIN ledger_posting p ON p.entry_id = e.id "
        "GROUP BY e.id, e.key HAVING COUNT(p.seq) < 2",
        "entry {key} has {n} postings",
    ),
    (
        "posting-asset",
        "SELECT p.seq, a.code FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id "
        "WHERE p.asset <> a.asset",
        "posting {seq} is not in the asset of {code}",
    ),
    (
        "materialised-balance",
        "SELECT a.code, a.balance, COALESCE(s.total, 0) AS total FROM ledger_account a "
        "LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_posting "
        "GROUP BY account_id) s ON s.account_id = a.id "
        "WHERE a.balance IS NOT NULL AND a.balance <> COALESCE(s.total, 0)",
        "{code}: stored balance {balance} but postings sum to {total}",
    ),
    (
        "no-negative",
        "SELECT code, balance FROM ledger_account "
        "WHERE (flags & 1) = 1 AND (balance IS NULL OR balance < 0)",
        "{code} must not go negative but holds {balance}",
    ),
    (
        "running-balance",
        "SELECT t.seq, a.code FROM (SELECT seq, account_id, amount, balance_after, "
        "LAG(balance_after) OVER (PARTITION BY account_id ORDER BY seq) AS prev "
        "FROM ledger_posting WHERE account_id IN "
        "(SELECT id FROM ledger_account WHERE balance IS NOT NULL)) t "
        "JOIN ledger_account a ON a.id = t.account_id "
        "WHERE t.balance_after IS NULL OR t.balance_after <> COALESCE(t.prev, 0) + t.amount",
        "posting {seq} on {code} breaks the running balance",
    ),
    (
        "lots-cover-balance",
        "SELECT a.code, a.balance, COALESCE(SUM(l.remaining), 0) AS lots FROM ledger_account a "
        "LEFT JOIN ledger_lot l ON l.account_id = a.id WHERE (a.flags & 2) = 2 "
        "GROUP BY a.id, a.code, a.balance HAVING a.balance <> COALESCE(SUM(l.remaining), 0)",
        "{code}: balance {balance} but its lots hold {lots}",
    ),
    (
        "lot-remaining",
        "SELECT l.id, l.amount, l.remaining, COALESCE(u.used, 0) AS used FROM ledger_lot l "
        "LEFT JOIN (SELECT lot_id, SUM(amount) AS used FROM ledger_lot_use GROUP BY lot_id) u "
        "ON u.lot_id = l.id "
        "WHERE l.remaining < 0 OR l.remaining > l.amount "
        "OR l.amount - COALESCE(u.used, 0) <> l.remaining",
        "lot {id}: amount {amount}, used {used}, but {remaining} remaining",
    ),
    (
        "held-equals-pending",
        "SELECT a.code, COALESCE(s.total, 0) AS held, COALESCE(h.pending, 0) AS pending "
        "FROM ledger_account a "
        "JOIN (SELECT DISTINCT held_id FROM ledger_hold) x ON x.held_id = a.id "
        "LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_posting "
        "GROUP BY account_id) s ON s.account_id = a.id "
        "LEFT JOIN (SELECT held_id, SUM(amount) AS pending FROM ledger_hold "
        "WHERE status = 'pending' GROUP BY held_id) h ON h.held_id = a.id "
        "WHERE COALESCE(s.total, 0) <> COALESCE(h.pending, 0)",
        "{code} holds {held} but pending holds add up to {pending}",
    ),
]


async def offending_rows(session: AsyncSession, sql: str) -> Sequence[Any]:
    return (await session.execute(text(f"SELECT * FROM ({sql}) AS q LIMIT {SAMPLE}"))).all()


async def counts(session: AsyncSession) -> dict[str, int]:
    out = {}
    for name in (
        "ledger_account",
        "ledger_entry",
        "ledger_posting",
        "ledger_lot",
        "ledger_checkpoint",
    ):
        out[name] = int((await session.execute(text(f"SELECT COUNT(*) FROM {name}"))).scalar_one())
    return out


async def entry_page(session: AsyncSession, after_seq: int, limit: int) -> Sequence[Any]:
    return (
        await session.execute(
            select(entry_t).where(entry_t.c.seq > after_seq).order_by(entry_t.c.seq).limit(limit)
        )
    ).all()


async def legs_of(session: AsyncSession, entry_ids: list[uuid.UUID]) -> Sequence[Any]:
    return (
        await session.execute(
            select(
                posting_t.c.entry_id, posting_t.c.account_id, posting_t.c.asset, posting_t.c.amount
            ).where(posting_t.c.entry_id.in_(entry_ids))
        )
    ).all()


async def all_checkpoints(session: AsyncSession) -> Sequence[Any]:
    return (await session.execute(select(checkpoint_t).order_by(checkpoint_t.c.last_seq))).all()


async def max_seq(session: AsyncSession) -> int:
    value = (await session.execute(select(func.max(entry_t.c.seq)))).scalar_one()
    return int(value or 0)
