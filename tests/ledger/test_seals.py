"""Tamper evidence and the verifier: any change to a past row is found."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import ledger
from tests.factories import award, make_issuer, make_sink, make_wallet, spend
from tests.helpers import bypass_append_only


async def small_ledger(session):
    await make_issuer(session)
    await make_sink(session)
    wallet = await make_wallet(session)
    entries = [await award(session, wallet, n) for n in (10, 20, 30)]
    entries.append(await spend(session, wallet, 25))
    return wallet, entries


def checks(report) -> set[str]:
    return {v.check for v in report.violations}


async def test_a_clean_ledger_verifies(session):
    await small_ledger(session)
    sealed = await ledger.seal_all(session)
    report = await ledger.verify(session)
    assert report.ok, report.violations
    assert report.entries == 4
    assert report.unsealed_entries == 0
    assert sum(cp.entry_count for cp in sealed) == 4


async def test_checkpoints_chain_and_leave_new_entries_unsealed(session):
    wallet, _ = await small_ledger(session)
    first = await ledger.seal(session, max_entries=3)
    second = await ledger.seal(session, max_entries=3)
    assert await ledger.seal(session) is None
    await award(session, wallet, 1)

    report = await ledger.verify(session)

    assert (first.entry_count, second.entry_count) == (3, 1)
    assert second.first_seq > first.last_seq
    assert report.ok
    assert report.unsealed_entries == 1


@pytest.mark.forges_ledger
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # A posting's amount changed on both sides: still balanced, but the seal breaks.
        (
            "UPDATE ledger_posting SET amount = amount * 2 WHERE entry_id = :e",
            {"entry-hash", "materialised-balance", "running-balance"},
        ),
        (
            "UPDATE ledger_posting SET amount = amount + 1 WHERE entry_id = :e AND amount > 0",
            {"entry-balanced", "entry-hash"},
        ),
        ("UPDATE ledger_entry SET memo = 'edited' WHERE id = :e", {"entry-hash"}),
        ("UPDATE ledger_entry SET actor = 'someone-else' WHERE id = :e", {"entry-hash"}),
        (
            "UPDATE ledger_account SET balance = balance + 100 WHERE balance IS NOT NULL",
            {"materialised-balance", "lots-cover-balance"},
        ),
        (
            "UPDATE ledger_lot SET remaining = remaining + 1 WHERE entry_id = :e",
            {"lots-cover-balance", "lot-remaining"},
        ),
    ],
)
async def test_tampering_is_detected(session, sql, expected):
    _, entries = await small_ledger(session)
    await ledger.seal_all(session)

    await bypass_append_only(session)
    await session.execute(text(sql), {"e": _id(session, entries[1].id)})
    report = await ledger.verify(session)

    assert expected <= checks(report), report.violations


@pytest.mark.forges_ledger
async def test_a_deleted_entry_breaks_its_checkpoint(session):
    _, entries = await small_ledger(session)
    await ledger.seal_all(session)
    victim = _id(session, entries[3].id)  # the spend: no lots to keep it referenced
    await bypass_append_only(session)

    await session.execute(text("DELETE FROM ledger_lot_use WHERE entry_id = :e"), {"e": victim})
    await session.execute(text("DELETE FROM ledger_posting WHERE entry_id = :e"), {"e": victim})
    await session.execute(text("DELETE FROM ledger_entry WHERE id = :e"), {"e": victim})
    report = await ledger.verify(session)

    assert "checkpoint" in checks(report)


@pytest.mark.forges_ledger
async def test_a_forged_entry_cannot_carry_a_valid_seal(session):
    _, entries = await small_ledger(session)
    await ledger.seal_all(session)
    await bypass_append_only(session)
    await session.execute(
        text("UPDATE ledger_entry SET hash = :h WHERE id = :e"),
        {"h": "0" * 64, "e": _id(session, entries[0].id)},
    )
    report = await ledger.verify(session)
    assert {"entry-hash", "checkpoint"} <= checks(report)


def _id(session, value):
    """UUID parameters in raw SQL: native on PostgreSQL, hex text on SQLite."""
    return value if session.get_bind().dialect.name == "postgresql" else value.hex


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entry SET memo = 'edited'",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_lot_use SET amount = 0",
        "DELETE FROM ledger_checkpoint",
        "TRUNCATE ledger_posting CASCADE",
    ],
)
async def test_postgresql_refuses_to_rewrite_history(session, sql):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("append-only triggers are a PostgreSQL safeguard")
    await small_ledger(session)
    await ledger.seal_all(session)

    with pytest.raises(DBAPIError, match="append-only"):
        async with session.begin_nested():
            await session.execute(text(sql))
