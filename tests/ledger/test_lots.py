"""Expiry lots: oldest-expiring spent first, expired points not spendable, expiry exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

import ledger
from core import clock
from ledger.errors import InsufficientBalance
from tests.factories import award, make_issuer, make_sink, make_wallet, spend


async def remaining(session, wallet):
    return [(lot.remaining, lot.expires_at) for lot in await ledger.lots(session, account=wallet)]


async def test_debits_consume_the_oldest_expiring_lot_first(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    now = clock.now()
    far, near = now + timedelta(days=300), now + timedelta(days=10)
    await award(session, wallet, 10, expires_at=far)
    await award(session, wallet, 10, expires_in=None)  # never expires: spent last
    await award(session, wallet, 10, expires_at=near)

    await spend(session, wallet, 15)

    assert await remaining(session, wallet) == [(5, far), (10, None)]


async def test_expired_points_cannot_be_spent_before_the_sweep(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    start = clock.now()
    await award(session, wallet, 10, expires_at=start + timedelta(days=1))
    await award(session, wallet, 5, expires_at=start + timedelta(days=30))

    with clock.frozen(start + timedelta(days=2)):
        with pytest.raises(InsufficientBalance) as caught:
            async with session.begin_nested():
                await spend(session, wallet, 6)
        assert caught.value.extensions["balance"] == 5
        await spend(session, wallet, 5)


async def test_expire_posts_what_is_left_exactly_once(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    other = await make_wallet(session)
    start = clock.now()
    await award(session, wallet, 10, expires_at=start + timedelta(days=1))
    await award(session, wallet, 7, expires_at=start + timedelta(days=1, hours=1))
    await award(session, wallet, 5, expires_at=start + timedelta(days=30))
    await award(session, other, 3, expires_at=start + timedelta(hours=1))
    await spend(session, wallet, 4)

    with clock.frozen(start + timedelta(days=2)):
        result = await ledger.expire(session)
        again = await ledger.expire(session)

    assert (result.entries, result.amount) == (2, 13 + 3)
    assert (again.entries, again.amount) == (0, 0)
    assert await ledger.balance(session, account=wallet) == 5
    assert await ledger.balance(session, account=other) == 0
    assert await ledger.balance(session, account="ledger:expired:PT") == 16
    report = await ledger.verify(session)
    assert report.ok, report.violations


async def test_expire_respects_the_limit_and_leaves_unexpired_lots(session):
    await make_issuer(session)
    start = clock.now()
    wallets = [await make_wallet(session) for _ in range(3)]
    for w in wallets:
        await award(session, w, 2, expires_at=start + timedelta(minutes=1))
        await award(session, w, 1, expires_at=start + timedelta(days=1))

    with clock.frozen(start + timedelta(minutes=2)):
        assert (await ledger.expire(session, limit=2)).entries == 2
        assert (await ledger.expire(session, limit=2)).entries == 1

    assert [await ledger.balance(session, account=w) for w in wallets] == [1, 1, 1]


async def test_balance_always_equals_the_unspent_lots(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    for points in (3, 9, 27):
        await award(session, wallet, points)
    await spend(session, wallet, 20)
    lots = await ledger.lots(session, account=wallet)
    assert sum(lot.remaining for lot in lots) == await ledger.balance(session, account=wallet) == 19
    spent = await ledger.lots(session, account=wallet, include_spent=True)
    assert len(spent) == 3
