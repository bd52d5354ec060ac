"""Reading the ledger: balances now and in the past, keyset statements, prefixes."""

from __future__ import annotations

from datetime import timedelta

import pytest

import ledger
from core import clock
from ledger.errors import InvalidCursor, UnknownAccount
from tests.factories import award, make_issuer, make_sink, make_wallet, spend


async def test_balance_at_a_past_time(session):
    issuer = await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    t0 = clock.now()
    with clock.frozen(t0):
        await award(session, wallet, 10)
    with clock.frozen(t0 + timedelta(hours=1)):
        await award(session, wallet, 5)
    with clock.frozen(t0 + timedelta(hours=2)):
        await spend(session, wallet, 12)

    assert await ledger.balance(session, account=wallet, as_of=t0 - timedelta(seconds=1)) == 0
    assert await ledger.balance(session, account=wallet, as_of=t0 + timedelta(minutes=30)) == 10
    assert await ledger.balance(session, account=wallet, as_of=t0 + timedelta(hours=1)) == 15
    assert await ledger.balance(session, account=wallet, as_of=t0 + timedelta(hours=3)) == 3
    assert await ledger.balance(session, account=issuer, as_of=t0 + timedelta(minutes=30)) == -10


async def test_statement_pages_newest_first_with_running_balance(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    for points in range(1, 8):
        await award(session, wallet, points)
    await spend(session, wallet, 4)

    seen = []
    cursor = None
    while True:
        page = await ledger.statement(session, account=wallet, limit=3, cursor=cursor)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [line.amount for line in seen] == [-4, 7, 6, 5, 4, 3, 2, 1]
    assert [line.balance_after for line in seen] == [24, 28, 21, 15, 10, 6, 3, 1]
    assert len({line.seq for line in seen}) == 8


async def test_statement_running_balance_on_an_issuer_is_summed(session):
    issuer = await make_issuer(session)
    wallet = await make_wallet(session)
    for points in (1, 2, 3):
        await award(session, wallet, points)

    first = await ledger.statement(session, account=issuer, limit=2)
    rest = await ledger.statement(session, account=issuer, limit=2, cursor=first.next_cursor)

    assert [line.balance_after for line in first.items + rest.items] == [-6, -3, -1]
    assert rest.next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "cDE=x", "", "AAAA", "cC0x", "p" * 500])
async def test_statement_refuses_forged_cursors(session, cursor):
    wallet = await make_wallet(session)
    if cursor == "":
        page = await ledger.statement(session, account=wallet, cursor=cursor)
        assert page.items == []
        return
    with pytest.raises(InvalidCursor):
        await ledger.statement(session, account=wallet, cursor=cursor)


async def test_balances_by_prefix_cover_every_asset(session):
    await make_issuer(session)
    await make_issuer(session, "issuer:hours", asset="HR")
    points = await make_wallet(session, "resident:9:points")
    hours = await make_wallet(session, "resident:9:hours", asset="HR")
    await make_wallet(session, "resident:90:points")
    await award(session, points, 12)
    await award(session, hours, 3, issuer="issuer:hours")

    found = await ledger.balances(session, prefix="resident:9:")

    assert {(a.code, a.asset, a.balance) for a in found} == {
        (points, "PT", 12),
        (hours, "HR", 3),
    }


async def test_reads_of_unknown_accounts_are_refused(session):
    with pytest.raises(UnknownAccount):
        await ledger.balance(session, account="nope")
    with pytest.raises(UnknownAccount):
        await ledger.statement(session, account="nope")
    issuer = await make_issuer(session)
    with pytest.raises(UnknownAccount):
        await ledger.lots(session, account=issuer)
