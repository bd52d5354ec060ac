"""Small async factories for test data: each test says what it needs."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

import ledger
from core import clock
from ledger import AccountFlags, EntryOut, PostingIn

_keys = itertools.count(1)
WALLET_FLAGS = AccountFlags.NO_NEGATIVE | AccountFlags.LOTS


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


async def make_issuer(session: AsyncSession, code: str = "issuer:green", asset: str = "PT") -> str:
    await ledger.open_account(session, code=code, asset=asset)
    return code


async def make_wallet(
    session: AsyncSession, code: str | None = None, *, asset: str = "PT", lots: bool = True
) -> str:
    code = code or f"resident:{next(_keys)}:wallet"
    flags = WALLET_FLAGS if lots else AccountFlags.NO_NEGATIVE
    await ledger.open_account(session, code=code, asset=asset, flags=flags)
    return code


async def make_sink(session: AsyncSession, code: str = "sink:redeemed", asset: str = "PT") -> str:
    await ledger.open_account(session, code=code, asset=asset)
    return code


async def award(
    session: AsyncSession,
    wallet: str,
    points: int,
    *,
    issuer: str = "issuer:green",
    expires_at: datetime | None = None,
    expires_in: timedelta | None = timedelta(days=365),
    entry_key: str | None = None,
) -> EntryOut:
    if expires_at is None and expires_in is not None:
        expires_at = clock.now() + expires_in
    return await ledger.post_entry(
        session,
        key=entry_key or key("award"),
        actor="staff:test",
        postings=[
            PostingIn(account=issuer, amount=-points),
            PostingIn(account=wallet, amount=points, expires_at=expires_at),
        ],
    )


async def spend(
    session: AsyncSession,
    wallet: str,
    points: int,
    *,
    sink: str = "sink:redeemed",
    entry_key: str | None = None,
) -> EntryOut:
    return await ledger.post_entry(
        session,
        key=entry_key or key("spend"),
        actor="resident:test",
        postings=[
            PostingIn(account=wallet, amount=-points),
            PostingIn(account=sink, amount=points),
        ],
    )
