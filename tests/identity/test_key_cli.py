"""`wujiang keys rotate` and `wujiang keys rotate-data` against a scratch database."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli.main import app
from core.crypto import KeyRing, generate_key
from core.db import Database
from core.ids import new_id
from core.settings import get_keyring, get_settings
from identity import residents
from identity.keys import PRIVATE_KEY_CONTEXT, signing_key_t
from identity.rotation import ENCRYPTED_TABLES
from tests.conftest import TEST_DATA_KEYS

runner = CliRunner()
resident_t = ENCRYPTED_TABLES[0].table
OLD_KID = TEST_DATA_KEYS.partition(":")[0]
NEW_DATA_KEYS = f"new:{generate_key()},{TEST_DATA_KEYS}"  # "new" current, the old one still read
# Personal data of the residents created below: (phone, name, ID number).
PEOPLE = [
    ("13800000001", "张三", "320584199005170011"),
    ("13800000002", "李四", None),
    ("13800000003", None, None),
    ("13800000004", "王五", "320584198001010022"),
    ("13800000005", "赵六", "32058419700101003X"),
]


@pytest.fixture
def keys_database(migrated_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated scratch database, configured with the test data key only."""
    monkeypatch.setenv("WUJIANG_DATA_KEYS", TEST_DATA_KEYS)
    get_settings.cache_clear()
    return migrated_database


def use_data_keys(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv("WUJIANG_DATA_KEYS", spec)
    get_settings.cache_clear()


def valid_kids(output: str) -> list[str]:
    _, _, listed = output.partition("valid for verification (newest first):")
    return listed.split()


def test_rotate_keeps_the_previous_key(keys_database: str) -> None:
    outputs = [runner.invoke(app, ["keys", "rotate"]) for _ in range(3)]

    for result in outputs:
        assert result.exit_code == 0, result.output
    new = [re.search(r"new signing key: (\S+)", r.output)[1] for r in outputs]  # type: ignore[index]
    assert len(set(new)) == 3
    assert valid_kids(outputs[0].output) == [new[0]]
    assert valid_kids(outputs[1].output) == [new[1], new[0]]
    assert valid_kids(outputs[2].output) == [new[2], new[1]]


def test_rotate_data_moves_every_field_to_the_current_key(
    keys_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = runner.invoke(app, ["keys", "rotate"])  # its private key under the old data key
    old_ring = get_keyring()
    ids = asyncio.run(_insert_residents(old_ring))
    use_data_keys(monkeypatch, NEW_DATA_KEYS)
    new_ring = get_keyring()
    asyncio.run(_mixed_row(new_ring, ids[0]))  # one field of one row already moved

    first = runner.invoke(app, ["keys", "rotate-data", "--batch-size", "2"])
    rows, key_tokens = asyncio.run(_read_all())
    second = runner.invoke(app, ["keys", "rotate-data", "--batch-size", "2"])

    assert signed.exit_code == 0, signed.output
    assert first.exit_code == 0, first.output
    # 5 phones + 4 names + 3 ID numbers - the one already moved, + 1 signing key.
    assert "re-encrypted 12 field(s) in 6 of 6 row(s) under data key 'new'" in first.output
    for row, (phone, name, id_number) in zip(rows, PEOPLE, strict=True):
        for token, context, value in [
            (row.phone_token, residents.PHONE, phone),
            (row.name_token, residents.NAME, name),
            (row.id_number_token, residents.ID_NUMBER, id_number),
        ]:
            if value is None:
                assert token is None
            else:
                assert token.startswith("v1.new."), token
                assert new_ring.decrypt(token, context=context) == value
    (key_token,) = key_tokens
    assert key_token.startswith("v1.new.")
    assert new_ring.decrypt(key_token, context=PRIVATE_KEY_CONTEXT).startswith("-----BEGIN")
    assert second.exit_code == 0, second.output
    assert "re-encrypted 0 field(s) in 0 of 6 row(s)" in second.output


def test_rotate_data_on_an_empty_database(keys_database: str) -> None:
    result = runner.invoke(app, ["keys", "rotate-data"])

    assert result.exit_code == 0, result.output
    assert "re-encrypted 0 field(s) in 0 of 0 row(s)" in result.output


# --- helpers ---------------------------------------------------------------------------------


async def _insert_residents(ring: KeyRing) -> list[Any]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": new_id(),
            "phone_token": ring.encrypt(phone, context=residents.PHONE),
            "phone_index": ring.blind_index(phone, context=residents.PHONE),
            "name_token": ring.encrypt(name, context=residents.NAME) if name else None,
            "id_number_token": (
                ring.encrypt(number, context=residents.ID_NUMBER) if number else None
            ),
            "id_number_index": (
                ring.blind_index(number, context=residents.ID_NUMBER) if number else None
            ),
            "assurance": "real_name" if number else "phone",
            "language": "zh",
            "created_at": now,
            "updated_at": now,
        }
        for phone, name, number in PEOPLE
    ]
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as s:
            await s.execute(resident_t.insert(), rows)
    finally:
        await database.dispose()
    assert all(row["phone_token"].startswith(f"v1.{OLD_KID}.") for row in rows)
    return [row["id"] for row in rows]


async def _mixed_row(ring: KeyRing, resident_id: Any) -> None:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as s:
            await s.execute(
                resident_t.update()
                .where(resident_t.c.id == resident_id)
                .values(phone_token=ring.encrypt(PEOPLE[0][0], context=residents.PHONE))
            )
    finally:
        await database.dispose()


async def _read_all() -> tuple[list[Any], list[str]]:
    database = Database(get_settings())
    try:
        async with database.unit_of_work() as s:
            rows = (await s.execute(select(resident_t).order_by(resident_t.c.id))).all()
            tokens = list(await s.scalars(select(signing_key_t.c.private_key_token)))
    finally:
        await database.dispose()
    return list(rows), tokens
