"""Data-key rotation: re-encrypt every encrypted field under the current data key.

After a new key is put first in WUJIANG_DATA_KEYS, new tokens use it while old ones still
decrypt under the keys listed after it. This moves the old tokens over, so the old key can then
be dropped from the list. It walks each table in primary-key order, one transaction per batch
(short locks, and progress survives an interruption), and leaves tokens already under the
current key alone, so running it again is harmless and finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import idempotency
from core.crypto import KeyRing
from core.db import Database
from core.idempotency import IdempotencyRecord
from core.settings import get_keyring
from identity import residents
from identity.keys import PRIVATE_KEY_CONTEXT, signing_key_t
from identity.models import Resident

DEFAULT_BATCH_SIZE = 500
Progress = Callable[[int, int], None]  # (rows done, rows in all)


@dataclass(frozen=True, slots=True)
class EncryptedTable:
    """A table's encrypted columns, each with the context its tokens were encrypted under."""

    table: Table
    key: str  # the single-column primary key the batches walk
    contexts: dict[str, str]  # column name -> core.crypto context


# Every encrypted column in the system: a new one must be added here, or rotate-data misses it
# and dropping the old data key makes its values unreadable.
ENCRYPTED_TABLES: tuple[EncryptedTable, ...] = (
    EncryptedTable(
        Resident.metadata.tables["identity_resident"],
        key="id",
        contexts={
            "phone_token": residents.PHONE,
            "name_token": residents.NAME,
            "id_number_token": residents.ID_NUMBER,
        },
    ),
    EncryptedTable(signing_key_t, key="kid", contexts={"private_key_token": PRIVATE_KEY_CONTEXT}),
    EncryptedTable(
        IdempotencyRecord.__table__,  # type: ignore[attr-defined]
        key="id",
        contexts={"body_token": idempotency.BODY_CONTEXT},
    ),
)


@dataclass(frozen=True, slots=True)
class Batch:
    rows: int  # rows read
    rows_changed: int
    fields: int  # fields re-encrypted
    last_key: Any  # where the next batch starts; None when the table is done


@dataclass(frozen=True, slots=True)
class DataRotationReport:
    current_kid: str
    rows: int  # rows examined
    rows_changed: int
    fields: int  # fields re-encrypted


async def count_rows(session: AsyncSession) -> int:
    """How many rows `rotate_data` will examine, for a progress bar."""
    total = 0
    for target in ENCRYPTED_TABLES:
        total += await session.scalar(select(func.count()).select_from(target.table)) or 0
    return total


async def reencrypt_batch(
    session: AsyncSession, target: EncryptedTable, *, after: Any, limit: int
) -> Batch:
    """Re-encrypt the fields of up to `limit` rows of `target` past key `after` (None: from the
    start) that are not under the current key; the rows are locked until the batch commits, so
    a concurrent change to one of them cannot be overwritten with its older value."""
    keyring = get_keyring()
    key_column = target.table.c[target.key]
    query = select(key_column, *(target.table.c[name] for name in target.contexts))
    if after is not None:
        query = query.where(key_column > after)
    rows = (await session.execute(query.order_by(key_column).limit(limit).with_for_update())).all()
    fields = changed = 0
    for row in rows:
        changes = _reencrypted(keyring, target, row._mapping)
        if changes:
            changed += 1
            fields += len(changes)
            await session.execute(update(target.table).where(key_column == row[0]).values(changes))
    last_key = rows[-1][0] if len(rows) == limit else None
    return Batch(rows=len(rows), rows_changed=changed, fields=fields, last_key=last_key)


def _reencrypted(keyring: KeyRing, target: EncryptedTable, row: Any) -> dict[str, str]:
    return {
        name: keyring.reencrypt(row[name], context=context)
        for name, context in target.contexts.items()
        if row[name] is not None and keyring.needs_rotation(row[name])
    }


async def rotate_data(
    database: Database, *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
) -> DataRotationReport:
    """Re-encrypt every field not under the current data key, one transaction per batch."""
    async with database.unit_of_work() as session:
        total = await count_rows(session)
    rows = rows_changed = fields = 0
    for target in ENCRYPTED_TABLES:
        after: Any = None
        while True:
            async with database.unit_of_work() as session:
                batch = await reencrypt_batch(session, target, after=after, limit=batch_size)
            rows += batch.rows
            rows_changed += batch.rows_changed
            fields += batch.fields
            if progress is not None:
                progress(rows, max(total, rows))  # rows added meanwhile may pass the count
            if batch.last_key is None:
                break
            after = batch.last_key
    return DataRotationReport(
        current_kid=get_keyring().current_kid, rows=rows, rows_changed=rows_changed, fields=fields
    )
