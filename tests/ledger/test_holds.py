"""Two-phase transfers: hold, post (in full or part), void, time out — each at most once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

import ledger
from core import clock
from ledger.errors import (
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    InsufficientBalance,
    InvalidEntry,
)
from tests.factories import award, key, make_issuer, make_sink, make_wallet


async def setup(session, points: int = 100):
    await make_issuer(session)
    sink = await make_sink(session)
    wallet = await make_wallet(session)
    await award(session, wallet, points)
    return wallet, sink


async def place(session, wallet, amount, minutes=10, hold_key=None):
    return await ledger.hold(
        session,
        key=hold_key or key("hold"),
        source=wallet,
        amount=amount,
        expires_at=clock.now() + timedelta(minutes=minutes),
        actor="resident:1",
    )


async def test_hold_parks_points_until_posted(session):
    wallet, sink = await setup(session)

    held = await place(session, wallet, 40)

    assert held.status == "pending"
    assert await ledger.balance(session, account=wallet) == 60
    assert await ledger.balance(session, account="ledger:held:PT") == 40
    posted = await ledger.post_hold(session, hold_id=held.id, destination=sink, actor="merchant:1")
    assert (posted.status, posted.posted_amount) == ("posted", 40)
    assert await ledger.balance(session, account=sink) == 40
    assert await ledger.balance(session, account="ledger:held:PT") == 0


async def test_partial_post_releases_the_rest(session):
    wallet, sink = await setup(session)
    held = await place(session, wallet, 40)

    posted = await ledger.post_hold(
        session, hold_id=held.id, destination=sink, amount=25, actor="merchant:1"
    )

    assert posted.posted_amount == 25
    assert await ledger.balance(session, account=wallet) == 75
    assert await ledger.balance(session, account=sink) == 25
    entry = await ledger.get_entry(session, entry_id=posted.resolution_entry_id)
    assert sorted(p.amount for p in entry.postings) == [-40, 15, 25]


async def test_void_returns_everything(session):
    wallet, _ = await setup(session)
    held = await place(session, wallet, 40)

    voided = await ledger.void_hold(session, hold_id=held.id, actor="resident:1")

    assert voided.status == "voided"
    assert await ledger.balance(session, account=wallet) == 100


async def test_a_hold_is_resolved_at_most_once(session):
    wallet, sink = await setup(session)
    held = await place(session, wallet, 40)
    await ledger.void_hold(session, hold_id=held.id, actor="resident:1")

    with pytest.raises(HoldNotPending):
        await ledger.post_hold(session, hold_id=held.id, destination=sink, actor="merchant:1")
    with pytest.raises(HoldNotPending):
        await ledger.void_hold(session, hold_id=held.id, actor="resident:1", key="another")
    assert await ledger.balance(session, account=wallet) == 100


async def test_replaying_a_post_returns_the_result_without_posting_again(session):
    wallet, sink = await setup(session)
    held = await place(session, wallet, 40)

    first = await ledger.post_hold(session, hold_id=held.id, destination=sink, actor="m", key="p1")
    again = await ledger.post_hold(session, hold_id=held.id, destination=sink, actor="m", key="p1")

    assert again.resolution_entry_id == first.resolution_entry_id
    assert await ledger.balance(session, account=sink) == 40


async def test_replaying_a_hold_returns_the_same_hold(session):
    wallet, _ = await setup(session)
    expires = clock.now() + timedelta(minutes=5)
    args = {"key": "h", "source": wallet, "amount": 10, "expires_at": expires, "actor": "r"}

    first = await ledger.hold(session, **args)
    again = await ledger.hold(session, **args)

    assert again.id == first.id
    assert await ledger.balance(session, account=wallet) == 90


async def test_holds_cannot_exceed_the_balance(session):
    wallet, _ = await setup(session, 10)
    with pytest.raises(InsufficientBalance):
        async with session.begin_nested():  # rolled back, as a refused request's transaction
            await place(session, wallet, 11)


@pytest.mark.parametrize("amount", [0, -5, 41])
async def test_post_amount_must_fit_the_hold(session, amount):
    wallet, sink = await setup(session)
    held = await place(session, wallet, 40)
    with pytest.raises(InvalidEntry):
        await ledger.post_hold(session, hold_id=held.id, destination=sink, amount=amount, actor="m")


async def test_hold_arguments_are_checked(session):
    wallet, _ = await setup(session)
    with pytest.raises(InvalidEntry):
        await place(session, wallet, 0)
    with pytest.raises(InvalidEntry):
        await place(session, wallet, 5, minutes=-1)
    with pytest.raises(HoldNotFound):
        await ledger.void_hold(session, hold_id=uuid.uuid4(), actor="x")


async def test_overdue_holds_are_voided_by_the_sweep_and_cannot_be_posted(session):
    wallet, sink = await setup(session)
    start = clock.now()
    with clock.frozen(start):
        short = await place(session, wallet, 30, minutes=5)
        long = await place(session, wallet, 20, minutes=60)

    with clock.frozen(start + timedelta(minutes=6)):
        with pytest.raises(HoldExpired):
            await ledger.post_hold(session, hold_id=short.id, destination=sink, actor="m")
        assert await ledger.expire_holds(session) == 1
        assert await ledger.expire_holds(session) == 0

    assert (await ledger.get_hold(session, hold_id=short.id)).status == "expired"
    assert (await ledger.get_hold(session, hold_id=long.id)).status == "pending"
    assert await ledger.balance(session, account=wallet) == 80


async def test_void_gives_back_the_same_lots_with_their_expiry(session):
    await make_issuer(session)
    wallet = await make_wallet(session)
    soon = clock.now() + timedelta(days=3)
    later = clock.now() + timedelta(days=300)
    await award(session, wallet, 10, expires_at=soon)
    await award(session, wallet, 10, expires_at=later)

    held = await place(session, wallet, 15)
    after_hold = {
        lot.expires_at: lot.remaining for lot in await ledger.lots(session, account=wallet)
    }
    await ledger.void_hold(session, hold_id=held.id, actor="r")
    after_void = {
        lot.expires_at: lot.remaining for lot in await ledger.lots(session, account=wallet)
    }

    assert after_hold == {later: 5}
    assert after_void == {soon: 10, later: 10}
