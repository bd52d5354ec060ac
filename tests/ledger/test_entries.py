"""Posting entries: the double-entry rules, guarded balances, idempotency and batches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

import ledger
from core import clock
from ledger import EntryIn, PostingIn
from ledger.errors import (
    IdempotencyConflict,
    InsufficientBalance,
    InvalidAccount,
    InvalidEntry,
    UnknownAccount,
)
from ledger.models import Entry
from tests.factories import award, key, make_issuer, make_sink, make_wallet, spend


async def entry_count(session) -> int:
    return (await session.execute(select(func.count()).select_from(Entry))).scalar_one()


async def test_award_moves_points_from_issuer_to_wallet(session):
    issuer = await make_issuer(session)
    wallet = await make_wallet(session)

    entry = await award(session, wallet, 30)

    assert entry.kind == "transfer"
    assert [(p.account, p.amount) for p in entry.postings] == [(issuer, -30), (wallet, 30)]
    assert await ledger.balance(session, account=wallet) == 30
    assert await ledger.balance(session, account=issuer) == -30  # issuers may go negative


async def test_entry_keeps_memo_metadata_actor_and_effective_time(session):
    issuer = await make_issuer(session)
    wallet = await make_wallet(session)
    yesterday = clock.now() - timedelta(days=1)

    entry = await ledger.post_entry(
        session,
        key=key(),
        actor="staff:42",
        memo="垃圾分类 correct sorting",
        metadata={"behaviour": "garbage-sorting", "quantity": 2, "nested": {"a": [1, 2]}},
        effective_at=yesterday,
        postings=[PostingIn(account=issuer, amount=-5), PostingIn(account=wallet, amount=5)],
    )
    stored = await ledger.get_entry(session, entry_id=entry.id)

    assert stored.memo == "垃圾分类 correct sorting"
    assert stored.metadata == {
        "behaviour": "garbage-sorting",
        "quantity": 2,
        "nested": {"a": [1, 2]},
    }
    assert stored.actor == "staff:42"
    assert stored.effective_at == yesterday
    assert stored.seq == entry.seq


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        ([], "at least two"),
        ([("issuer:green", -5)], "at least two"),
        ([("issuer:green", -5), ("w", 4)], "sum to zero"),
        ([("issuer:green", 0), ("w", 0)], "cannot be zero"),
        ([("issuer:green", -5), ("issuer:green", 5)], "only once"),
        ([("issuer:green", -(2**60)), ("w", 2**60)], "out of range"),
        ([("issuer:green", -5), ("hours", 5)], "sum to zero"),  # PT against HR
    ],
)
async def test_malformed_entries_are_refused_before_anything_is_written(session, legs, message):
    await make_issuer(session)
    await make_wallet(session, "w")
    await make_wallet(session, "hours", asset="HR")
    before = await entry_count(session)

    with pytest.raises(InvalidEntry, match=message):
        await ledger.post_entry(
            session,
            key=key(),
            actor="staff:1",
            postings=[PostingIn(account=a, amount=n) for a, n in legs],
        )

    assert await entry_count(session) == before


async def test_mixed_assets_balance_per_asset(session):
    await make_issuer(session, "issuer:hours", asset="HR")
    await make_issuer(session)
    hours = await make_wallet(session, "r:hours", asset="HR")
    points = await make_wallet(session, "r:points")

    entry = await ledger.post_entry(
        session,
        key=key(),
        actor="staff:1",
        postings=[
            PostingIn(account="issuer:hours", amount=-2),
            PostingIn(account=hours, amount=2),
            PostingIn(account="issuer:green", amount=-20),
            PostingIn(account=points, amount=20),
        ],
    )

    assert len(entry.postings) == 4
    assert await ledger.balance(session, account=hours) == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key": ""}, "idempotency key"),
        ({"key": "x" * 201}, "idempotency key"),
        ({"actor": ""}, "principal"),
        ({"memo": "m" * 501}, "memo"),
        ({"metadata": {"blob": "x" * 9000}}, "Metadata"),
    ],
)
async def test_annotations_are_bounded(session, kwargs, error):
    issuer = await make_issuer(session)
    wallet = await make_wallet(session)
    args = {"key": key(), "actor": "staff:1", **kwargs}
    with pytest.raises(InvalidEntry, match=error):
        await ledger.post_entry(
            session,
            postings=[PostingIn(account=issuer, amount=-1), PostingIn(account=wallet, amount=1)],
            **args,
        )


async def test_unknown_account_is_refused(session):
    await make_issuer(session)
    with pytest.raises(UnknownAccount) as caught:
        await award(session, "resident:nobody:wallet", 5)
    assert caught.value.extensions["accounts"] == ["resident:nobody:wallet"]


async def test_expiry_only_on_credits_to_lots_accounts(session):
    issuer = await make_issuer(session)
    plain = await make_wallet(session, lots=False)
    wallet = await make_wallet(session)
    later = clock.now() + timedelta(days=1)

    with pytest.raises(InvalidEntry, match="Only LOTS"):
        await award(session, plain, 5, expires_at=later)
    with pytest.raises(InvalidEntry, match="future"):
        async with session.begin_nested():  # rolled back, as a refused request's transaction
            await award(session, wallet, 5, expires_at=clock.now() - timedelta(seconds=1))
    with pytest.raises(InvalidEntry, match="credits only"):
        await ledger.post_entry(
            session,
            key=key(),
            actor="x",
            postings=[
                PostingIn(account=wallet, amount=-1, expires_at=later),
                PostingIn(account=issuer, amount=1),
            ],
        )


async def test_guarded_wallet_never_goes_negative(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    await award(session, wallet, 10)

    with pytest.raises(InsufficientBalance) as caught:
        async with session.begin_nested():
            await spend(session, wallet, 11)

    assert caught.value.extensions == {"account": wallet, "balance": 10, "requested": 11}
    assert await ledger.balance(session, account=wallet) == 10
    await spend(session, wallet, 10)
    assert await ledger.balance(session, account=wallet) == 0


async def test_replaying_a_key_returns_the_first_entry_and_applies_once(session):
    await make_issuer(session)
    wallet = await make_wallet(session)
    expires = clock.now() + timedelta(days=30)

    first = await award(session, wallet, 7, entry_key="same", expires_at=expires)
    again = await award(session, wallet, 7, entry_key="same", expires_at=expires)

    assert not first.replayed
    assert again.replayed
    assert again.id == first.id
    assert again.postings == first.postings
    assert await ledger.balance(session, account=wallet) == 7


async def test_same_key_with_different_content_is_a_conflict(session):
    await make_issuer(session)
    wallet = await make_wallet(session)
    expires = clock.now() + timedelta(days=30)
    await award(session, wallet, 7, entry_key="same", expires_at=expires)

    with pytest.raises(IdempotencyConflict):
        await award(session, wallet, 8, entry_key="same", expires_at=expires)
    assert await ledger.balance(session, account=wallet) == 7


async def test_batch_posts_every_entry(session):
    issuer = await make_issuer(session)
    wallets = [await make_wallet(session) for _ in range(5)]
    batch = [
        EntryIn(
            key=f"batch-{i}",
            actor="import:bikes",
            postings=[PostingIn(account=issuer, amount=-i - 1), PostingIn(account=w, amount=i + 1)],
        )
        for i, w in enumerate(wallets * 3)
    ]

    results = await ledger.post_entries(session, batch)

    assert [r.key for r in results] == [e.key for e in batch]
    assert await ledger.balance(session, account=issuer) == -sum(range(1, 16))
    assert await ledger.balance(session, account=wallets[0]) == 1 + 6 + 11
    replayed = await ledger.post_entries(session, batch)
    assert all(r.replayed for r in replayed)
    assert await ledger.balance(session, account=wallets[0]) == 18


async def test_batch_is_all_or_nothing(session):
    issuer = await make_issuer(session)
    sink = await make_sink(session)
    wallet = await make_wallet(session)
    before = await entry_count(session)
    batch = [
        EntryIn(
            key="ok",
            actor="a",
            postings=[PostingIn(account=issuer, amount=-5), PostingIn(account=wallet, amount=5)],
        ),
        EntryIn(
            key="too-much",
            actor="a",
            postings=[PostingIn(account=wallet, amount=-6), PostingIn(account=sink, amount=6)],
        ),
    ]

    with pytest.raises(InsufficientBalance):
        async with session.begin_nested():
            await ledger.post_entries(session, batch)

    assert await entry_count(session) == before
    assert await ledger.balance(session, account=wallet) == 0


async def test_batch_refuses_a_debit_before_its_credit_even_if_the_total_is_fine(session):
    issuer = await make_issuer(session)
    sink = await make_sink(session)
    wallet = await make_wallet(session, lots=False)
    batch = [
        EntryIn(
            key="spend-first",
            actor="a",
            postings=[PostingIn(account=wallet, amount=-5), PostingIn(account=sink, amount=5)],
        ),
        EntryIn(
            key="credit-later",
            actor="a",
            postings=[PostingIn(account=issuer, amount=-5), PostingIn(account=wallet, amount=5)],
        ),
    ]
    with pytest.raises(InsufficientBalance):
        async with session.begin_nested():
            await ledger.post_entries(session, batch)


async def test_batch_with_a_key_twice(session):
    issuer = await make_issuer(session)
    wallet = await make_wallet(session)
    legs = [PostingIn(account=issuer, amount=-5), PostingIn(account=wallet, amount=5)]
    same = EntryIn(key="dup", actor="a", postings=legs)

    results = await ledger.post_entries(session, [same, same])
    assert results[0].id == results[1].id
    assert await ledger.balance(session, account=wallet) == 5

    other = EntryIn(key="dup2", actor="a", postings=legs)
    changed = EntryIn(key="dup2", actor="b", postings=legs)
    with pytest.raises(IdempotencyConflict):
        await ledger.post_entries(session, [other, changed])


async def test_failed_unit_of_work_leaves_nothing_behind(committed_db):
    """Over real commits: an entry refused half-way (after its row was inserted) rolls back."""
    async with committed_db.unit_of_work() as s:
        await make_issuer(s)
        await make_sink(s)
        wallet = await make_wallet(s)
        await award(s, wallet, 3)
    with pytest.raises(InsufficientBalance):
        async with committed_db.unit_of_work() as s:
            await spend(s, wallet, 4, entry_key="refused")
    async with committed_db.unit_of_work() as s:
        rows = await s.execute(text("SELECT count(*) FROM ledger_entry WHERE key = 'refused'"))
        assert rows.scalar_one() == 0
        assert await ledger.balance(s, account=wallet) == 3


async def test_accounts_are_validated_and_reopening_is_idempotent(session):
    first = await ledger.open_account(
        session, code="resident:7:wallet", flags=ledger.AccountFlags.NO_NEGATIVE
    )
    again = await ledger.open_account(
        session, code="resident:7:wallet", flags=ledger.AccountFlags.NO_NEGATIVE
    )
    assert first.id == again.id
    with pytest.raises(ledger.errors.AccountConflict):
        await ledger.open_account(session, code="resident:7:wallet")
    for code in ["", "has space", "x" * 201, "-leading"]:
        with pytest.raises(InvalidAccount):
            await ledger.open_account(session, code=code)
    with pytest.raises(InvalidAccount):
        await ledger.open_account(session, code="ok", asset="points")
    with pytest.raises(InvalidAccount):
        await ledger.open_account(session, code="ok", flags=ledger.AccountFlags.LOTS)


async def test_large_batch_keeps_order_running_balances_and_lots(session):
    issuer = await make_issuer(session)
    wallets = [await make_wallet(session) for _ in range(3)]
    expires = clock.now() + timedelta(days=90)
    batch = [
        EntryIn(
            key=f"big-{i}",
            actor="import:recycling",
            postings=[
                PostingIn(account=issuer, amount=-(i + 1)),
                PostingIn(account=wallets[i % 3], amount=i + 1, expires_at=expires),
            ],
        )
        for i in range(60)
    ]

    results = await ledger.post_entries(session, batch)

    assert [r.key for r in results] == [e.key for e in batch]
    page = await ledger.statement(session, account=wallets[0], limit=200)
    assert [line.amount for line in page.items] == list(range(58, 0, -3))
    assert page.items[0].balance_after == sum(range(1, 61, 3))
    assert len(await ledger.lots(session, account=wallets[0])) == 20
    report = await ledger.verify(session)
    assert report.ok, report.violations
