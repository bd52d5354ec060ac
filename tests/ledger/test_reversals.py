"""Reversals: a new entry pointing at the one it undoes, at most once, never beyond what is left."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

import ledger
from core import clock
from ledger.errors import (
    AlreadyReversed,
    EntryNotFound,
    InvalidEntry,
    NotReversible,
    ReversalExceedsRemaining,
)
from tests.factories import award, make_issuer, make_sink, make_wallet, spend


async def test_full_reversal_points_at_the_original(session):
    issuer = await make_issuer(session)
    wallet = await make_wallet(session)
    original = await award(session, wallet, 50)

    reversal = await ledger.reverse(session, entry_id=original.id, key="rev-1", actor="approver:1")

    assert reversal.kind == "reversal"
    assert reversal.reverses_id == original.id
    assert {(p.account, p.amount) for p in reversal.postings} == {(issuer, 50), (wallet, -50)}
    assert await ledger.balance(session, account=wallet) == 0


async def test_an_entry_is_reversed_once(session):
    await make_issuer(session)
    wallet = await make_wallet(session)
    original = await award(session, wallet, 50)
    first = await ledger.reverse(session, entry_id=original.id, key="rev-1", actor="a")

    again = await ledger.reverse(session, entry_id=original.id, key="rev-1", actor="a")
    assert again.replayed
    assert again.id == first.id
    with pytest.raises(AlreadyReversed):
        await ledger.reverse(session, entry_id=original.id, key="rev-2", actor="a")


async def test_partial_reversal(session):
    await make_issuer(session)
    wallet = await make_wallet(session)
    original = await award(session, wallet, 50)

    await ledger.reverse(session, entry_id=original.id, key="rev", actor="a", amount=20)

    assert await ledger.balance(session, account=wallet) == 30
    with pytest.raises(AlreadyReversed):
        await ledger.reverse(session, entry_id=original.id, key="rev-more", actor="a", amount=5)


@pytest.mark.parametrize("amount", [0, -1, 51])
async def test_partial_reversal_is_bounded(session, amount):
    await make_issuer(session)
    wallet = await make_wallet(session)
    original = await award(session, wallet, 50)
    with pytest.raises(InvalidEntry):
        await ledger.reverse(session, entry_id=original.id, key="r", actor="a", amount=amount)


async def test_spent_points_cannot_be_reversed_and_the_error_says_what_remains(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    original = await award(session, wallet, 50)
    await spend(session, wallet, 35)

    with pytest.raises(ReversalExceedsRemaining) as caught:
        await ledger.reverse(session, entry_id=original.id, key="r", actor="a")

    assert caught.value.extensions["remaining"] == 15
    reversal = await ledger.reverse(session, entry_id=original.id, key="r2", actor="a", amount=15)
    assert reversal.reverses_id == original.id
    assert await ledger.balance(session, account=wallet) == 0


async def test_reversal_takes_back_only_the_points_that_award_gave(session):
    """Points from another award are not a way around the award's own lot being spent."""
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    soon = clock.now() + timedelta(days=1)
    first = await award(session, wallet, 10, expires_at=soon)
    await award(session, wallet, 100)
    await spend(session, wallet, 10)  # consumes the first award's lot: it expires soonest

    with pytest.raises(ReversalExceedsRemaining):
        await ledger.reverse(session, entry_id=first.id, key="r", actor="a")
    assert await ledger.balance(session, account=wallet) == 100


async def test_reversing_a_spend_restores_the_lots_it_consumed(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    soon = clock.now() + timedelta(days=5)
    await award(session, wallet, 10, expires_at=soon)
    purchase = await spend(session, wallet, 8)

    await ledger.reverse(session, entry_id=purchase.id, key="refund", actor="merchant:1")

    lots = await ledger.lots(session, account=wallet)
    assert [(lot.remaining, lot.expires_at) for lot in lots] == [(10, soon)]


async def test_only_transfers_can_be_reversed(session):
    await make_issuer(session)
    wallet = await make_wallet(session)
    original = await award(session, wallet, 5)
    reversal = await ledger.reverse(session, entry_id=original.id, key="r", actor="a")

    with pytest.raises(NotReversible):
        await ledger.reverse(session, entry_id=reversal.id, key="rr", actor="a")
    with pytest.raises(EntryNotFound):
        await ledger.reverse(session, entry_id=uuid.uuid4(), key="x", actor="a")
