"""The bulk queries of feed imports: a thousand rows per statement, not one statement a row.

Locks are taken in one global order — award keys sorted; cap counters by behaviour, then period
kind (day, week, month, year, the order a staff award takes them), then resident — so two imports
of the same file and staff awards racing on the same counters wait for each other rather than
deadlock.

On PostgreSQL the lookups join against arrays (`unnest`) rather than long IN lists: a table
that grew by a hundred thousand rows during the import has no fresh statistics yet, and the
generic plan of a thousand-parameter IN list then scans the whole table for every chunk."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import is_postgresql, upsert
from identity.models import Resident
from points.repository.awards import award_t
from points.repository.limits import cap_t

# The resident table is identity's. Only these two existence lookups read it, in bulk, because
# identity.residents offers them one at a time; they belong there once it grows bulk lookups.
_resident_t: Table = Resident.__table__  # type: ignore[attr-defined]
_IN_CHUNK = 1000
_CAP_KEY = ("resident_id", "behaviour_code", "period")


async def hashes_by_key(
    session: AsyncSession, issued_by: str, keys: Collection[str]
) -> dict[str, str]:
    """The request hash of each award already recorded under one of `keys`."""
    if _postgres(session):
        sql = (
            "SELECT a.idempotency_key, a.request_hash FROM unnest(CAST(:keys AS text[])) AS k(key) "
            "JOIN points_award AS a ON a.issued_by = :issued_by AND a.idempotency_key = k.key"
        )
        rows = await session.execute(text(sql), {"keys": sorted(keys), "issued_by": issued_by})
        return {row[0]: row[1] for row in rows}
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        query = select(award_t.c.idempotency_key, award_t.c.request_hash).where(
            award_t.c.issued_by == issued_by, award_t.c.idempotency_key.in_(chunk)
        )
        found.update({row[0]: row[1] for row in await session.execute(query)})
    return found


async def known_residents(session: AsyncSession, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    if _postgres(session):
        sql = (
            "SELECT r.id FROM unnest(CAST(:ids AS uuid[])) AS k(id) "
            "JOIN identity_resident AS r ON r.id = k.id"
        )
        return {row[0] for row in await session.execute(text(sql), {"ids": sorted(ids)})}
    found: set[uuid.UUID] = set()
    for chunk in _chunks(sorted(ids)):
        query = select(_resident_t.c.id).where(_resident_t.c.id.in_(chunk))
        found.update(row[0] for row in await session.execute(query))
    return found


async def residents_by_phone_index(
    session: AsyncSession, indexes: Collection[str]
) -> dict[str, uuid.UUID]:
    if _postgres(session):
        sql = (
            "SELECT r.phone_index, r.id FROM unnest(CAST(:indexes AS text[])) AS k(phone_index) "
            "JOIN identity_resident AS r ON r.phone_index = k.phone_index"
        )
        rows = await session.execute(text(sql), {"indexes": sorted(indexes)})
        return {row[0]: row[1] for row in rows}
    found: dict[str, uuid.UUID] = {}
    for chunk in _chunks(sorted(indexes)):
        query = select(_resident_t.c.phone_index, _resident_t.c.id).where(
            _resident_t.c.phone_index.in_(chunk)
        )
        found.update({row[0]: row[1] for row in await session.execute(query)})
    return found


async def cap_usage(
    session: AsyncSession, keys: Collection[tuple[uuid.UUID, str, str]]
) -> dict[tuple[uuid.UUID, str, str], int]:
    """Points counted so far on each (resident, behaviour, period) counter; absent ones are 0."""
    if not keys:
        return {}
    if _postgres(session):
        ordered = sorted(keys)
        sql = (
            "SELECT c.resident_id, c.behaviour_code, c.period, c.points FROM unnest("
            "CAST(:resident_id AS uuid[]), CAST(:behaviour_code AS text[]), "
            "CAST(:period AS text[])) AS k(resident_id, behaviour_code, period) "
            "JOIN points_cap_usage AS c ON c.resident_id = k.resident_id "
            "AND c.behaviour_code = k.behaviour_code AND c.period = k.period"
        )
        arrays = {name: [key[i] for key in ordered] for i, name in enumerate(_CAP_KEY)}
        rows = await session.execute(text(sql), arrays)
        return {(row[0], row[1], row[2]): row[3] for row in rows}
    wanted = set(keys)
    found: dict[tuple[uuid.UUID, str, str], int] = {}
    codes = sorted({key[1] for key in wanted})
    for chunk in _chunks(sorted({key[0] for key in wanted})):
        query = select(cap_t.c.resident_id, cap_t.c.behaviour_code, cap_t.c.period, cap_t.c.points)
        query = query.where(cap_t.c.resident_id.in_(chunk), cap_t.c.behaviour_code.in_(codes))
        for resident_id, code, period, points in await session.execute(query):
            if (resident_id, code, period) in wanted:
                found[(resident_id, code, period)] = points
    return found


async def raise_caps_within(
    session: AsyncSession, rows: Sequence[dict[str, Any]], limit: int
) -> set[tuple[uuid.UUID, str, str]]:
    """Add each row's points to its counter if the total stays <= `limit`, in one statement;
    the keys raised. Rows must be of one behaviour and period kind, sorted by key (lock order)."""
    if not rows:
        return set()
    if _postgres(session):
        sql = (
            "INSERT INTO points_cap_usage AS c (resident_id, behaviour_code, period, points) "
            "SELECT resident_id, behaviour_code, period, points FROM unnest("
            "CAST(:resident_id AS uuid[]), CAST(:behaviour_code AS text[]), "
            "CAST(:period AS text[]), CAST(:points AS integer[])) WITH ORDINALITY "
            "AS r(resident_id, behaviour_code, period, points, n) ORDER BY n "
            "ON CONFLICT (resident_id, behaviour_code, period) DO UPDATE "
            "SET points = c.points + excluded.points WHERE c.points + excluded.points <= :limit "
            "RETURNING c.resident_id, c.behaviour_code, c.period"
        )
        arrays = _arrays(rows, ["resident_id", "behaviour_code", "period", "points"])
        result = await session.execute(text(sql), {**arrays, "limit": limit})
        return {(row[0], row[1], row[2]) for row in result}
    statement = upsert(session, cap_t)
    statement = statement.on_conflict_do_update(
        index_elements=["resident_id", "behaviour_code", "period"],
        set_={"points": cap_t.c.points + statement.excluded.points},
        where=(cap_t.c.points + statement.excluded.points) <= limit,
    ).returning(cap_t.c.resident_id, cap_t.c.behaviour_code, cap_t.c.period)
    return {(row[0], row[1], row[2]) for row in await session.execute(statement, list(rows))}


# The columns of a feed's award row (the others stay NULL) and their PostgreSQL types.
_AWARD_COLUMNS = {
    "id": "uuid",
    "issued_by": "text",
    "idempotency_key": "text",
    "request_hash": "text",
    "resident_id": "uuid",
    "behaviour_id": "bigint",
    "behaviour_code": "text",
    "category": "text",
    "community": "text",
    "quantity_milli": "bigint",
    "points": "integer",
    "status": "text",
    "occurred_at": "timestamptz",
    "expires_at": "timestamptz",
    "created_at": "timestamptz",
    "reversed_points": "integer",
}


async def insert_awards(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert the award rows whose idempotency key is free; the keys inserted. A key another
    transaction is inserting waits for it, then is skipped: a record is never awarded twice.
    On PostgreSQL one INSERT … SELECT FROM unnest of one array per column, in key order."""
    if not rows:
        return set()
    ordered = sorted(rows, key=lambda r: str(r["idempotency_key"]))
    if _postgres(session):
        names = ", ".join(_AWARD_COLUMNS)
        arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _AWARD_COLUMNS.items())
        sql = (
            f"INSERT INTO points_award ({names}) SELECT {names} FROM unnest({arrays}) "  # noqa: S608
            f"WITH ORDINALITY AS r({names}, n) ORDER BY n "
            "ON CONFLICT DO NOTHING RETURNING idempotency_key"
        )
        result = await session.execute(text(sql), _arrays(ordered, list(_AWARD_COLUMNS)))
        return {row[0] for row in result}
    statement = upsert(session, award_t).on_conflict_do_nothing()
    statement = statement.returning(award_t.c.idempotency_key)
    return {row[0] for row in await session.execute(statement, ordered)}


async def set_entry_ids(session: AsyncSession, entries: dict[uuid.UUID, uuid.UUID]) -> None:
    """Point each award (by id) at the ledger entry that moved its points: one UPDATE … FROM
    unnest on PostgreSQL, a prepared statement run per row on SQLite."""
    if not entries:
        return
    pairs = sorted(entries.items())
    if _postgres(session):
        sql = (
            "UPDATE points_award AS a SET entry_id = p.entry_id FROM unnest("
            "CAST(:award_id AS uuid[]), CAST(:entry_id AS uuid[])) AS p(award_id, entry_id) "
            "WHERE a.id = p.award_id"
        )
        ids = {"award_id": [a for a, _ in pairs], "entry_id": [e for _, e in pairs]}
        await session.execute(text(sql), ids)
        return
    statement = (
        update(award_t)
        .where(award_t.c.id == bindparam("award_id"))
        .values(entry_id=bindparam("entry"))
    )
    rows = [{"award_id": award_id, "entry": entry_id} for award_id, entry_id in pairs]
    await (await session.connection()).execute(statement, rows)


def _postgres(session: AsyncSession) -> bool:
    return is_postgresql(session)


def _arrays(rows: Sequence[dict[str, Any]], columns: list[str]) -> dict[str, list[Any]]:
    return {column: [row[column] for row in rows] for column in columns}


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _IN_CHUNK] for i in range(0, len(items), _IN_CHUNK)]
