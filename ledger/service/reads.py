"""Reading the ledger: balances now and in the past, statements, lots, entries."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from ledger import repository as repo
from ledger.errors import EntryNotFound, InvalidCursor, UnknownAccount
from ledger.repository import AccountRef
from ledger.schemas import AccountOut, EntryOut, LotOut, StatementLine, StatementPage
from ledger.service.accounts import resolve
from ledger.service.engine import load_outputs

MAX_PAGE = 200


async def balance(session: AsyncSession, *, account: str, as_of: datetime | None = None) -> int:
    """The account's balance now, or as recorded at `as_of`."""
    ref = (await resolve(session, [account]))[account]
    if as_of is None:
        stored = await repo.stored_balance(session, ref.id)
        return stored if stored is not None else await repo.sum_postings(session, ref.id)
    as_of = clock.as_utc(as_of)
    if ref.materialised:
        return await repo.balance_after_at(session, ref.id, as_of)
    return await repo.sum_postings(session, ref.id, as_of=as_of)


async def balances(session: AsyncSession, *, prefix: str) -> list[AccountOut]:
    """Every account whose code starts with `prefix` (e.g. all of one resident's), by asset."""
    out = []
    for row in await repo.accounts_with_prefix(session, prefix):
        value = row.balance if row.balance is not None else await repo.sum_postings(session, row.id)
        out.append(
            AccountOut(id=row.id, code=row.code, asset=row.asset, flags=row.flags, balance=value)
        )
    return out


async def statement(
    session: AsyncSession, *, account: str, limit: int = 50, cursor: str | None = None
) -> StatementPage:
    """Newest-first postings with the running balance, paginated by an opaque keyset cursor."""
    ref = (await resolve(session, [account]))[account]
    limit = max(1, min(limit, MAX_PAGE))
    before = decode_cursor(cursor) if cursor else None
    rows = await repo.statement_rows(session, ref.id, before_seq=before, limit=limit + 1)
    page = rows[:limit]
    running = await _running_start(session, ref, page[0].seq) if page else 0
    items = []
    for row in page:
        after = row.balance_after if row.balance_after is not None else running
        items.append(
            StatementLine(
                seq=row.seq,
                entry_id=row.entry_id,
                key=row.key,
                kind=row.kind,
                memo=row.memo,
                amount=row.amount,
                balance_after=after,
                effective_at=row.effective_at,
                created_at=row.created_at,
            )
        )
        running = after - row.amount
    next_cursor = encode_cursor(page[-1].seq) if len(rows) > limit else None
    return StatementPage(account=ref.code, asset=ref.asset, items=items, next_cursor=next_cursor)


async def _running_start(session: AsyncSession, ref: AccountRef, seq: int) -> int:
    if ref.materialised:
        return 0  # every posting carries its own balance_after
    return await repo.sum_postings_through(session, ref.id, seq)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"p{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        text = raw.decode()
        if not text.startswith("p") or not text[1:].isdigit() or len(text) > 20:
            raise ValueError(text)
        seq = int(text[1:])
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidCursor("The cursor is not one this API issued.") from exc
    if encode_cursor(seq) != cursor:  # one spelling per position: no near-miss forgeries
        raise InvalidCursor("The cursor is not one this API issued.")
    return seq


async def lots(session: AsyncSession, *, account: str, include_spent: bool = False) -> list[LotOut]:
    """The account's lots, oldest-expiring first."""
    ref = (await resolve(session, [account]))[account]
    if not ref.lots:
        raise UnknownAccount(f"{account} does not keep lots.", account=account)
    rows = await repo.lots_of_account(session, ref.id, include_spent=include_spent)
    return [
        LotOut(
            id=r.id,
            entry_id=r.entry_id,
            amount=r.amount,
            remaining=r.remaining,
            expires_at=r.expires_at,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def get_entry(session: AsyncSession, *, entry_id: uuid.UUID) -> EntryOut:
    row = await repo.entry_by_id(session, entry_id)
    if row is None:
        raise EntryNotFound(f"No ledger entry {entry_id}.", entry_id=str(entry_id))
    return (await load_outputs(session, [row]))[row.key]
