"""Redemptions racing over HTTP with real commits: no oversell, no double spend, one redemption
per Idempotency-Key, and the per-resident limit held — on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
from sqlalchemy import func, select

import ledger
import points
from core.db import Database
from points.accounts import wallet
from points.models import Redemption
from tests.points.test_rewards import add_reward, fund
from tests.points_actors import Actor, make_resident

RESIDENTS = 200
STOCK = 20
COST = 30
# Requests in flight at once. The app's Redis client (redis-py 8) refuses more than 100
# connections per process, and every request checks its token there.
IN_FLIGHT = 64


async def residents(database: Database, count: int, *, points_each: int = 100) -> list[Actor]:
    async with database.unit_of_work() as session:
        made = [await make_resident(session, phone=f"137{i:08d}") for i in range(count)]
        for actor in made:
            await fund(session, actor.id, points_each)
    return made


async def reward(database: Database, **fields) -> None:
    async with database.unit_of_work() as session:
        await add_reward(session, "lantern", points_cost=COST, **fields)


async def race(client: httpx.AsyncClient, calls: list[tuple[Actor, str]]) -> list[httpx.Response]:
    """Every (resident, Idempotency-Key) redeeming at once, IN_FLIGHT at a time."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def post(actor: Actor, key: str) -> httpx.Response:
        async with gate:
            return await client.post(
                "/v1/me/redemptions",
                json={"reward": "lantern"},
                headers={**actor.headers, "Idempotency-Key": key},
            )

    return await asyncio.gather(*(post(actor, key) for actor, key in calls))


async def test_many_residents_race_for_little_stock(
    committed_client: httpx.AsyncClient, committed_db: Database
) -> None:
    actors = await residents(committed_db, RESIDENTS)
    await reward(committed_db, stock=STOCK)

    answers = await race(committed_client, [(a, str(uuid.uuid4())) for a in actors])

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: STOCK, 409: RESIDENTS - STOCK}, statuses
    refused = {a.json()["type"].rsplit(":", 1)[-1] for a in answers if a.status_code == 409}
    assert refused == {"sold-out"}
    winners = {actor.id for actor, a in zip(actors, answers, strict=True) if a.status_code == 201}
    async with committed_db.unit_of_work() as session:
        left = (await points.get_reward(session, code="lantern", public=False)).stock_left
        count = (await session.execute(select(func.count()).select_from(Redemption))).scalar_one()
        balances = {a.id: await ledger.balance(session, account=wallet(a.id)) for a in actors}
        report = await ledger.verify(session)
    assert left == 0
    assert count == STOCK
    assert all(balances[a.id] == (100 - COST if a.id in winners else 100) for a in actors)
    assert report.ok, report.violations


async def test_one_key_sent_many_times_at_once_is_one_redemption(
    committed_client: httpx.AsyncClient, committed_db: Database
) -> None:
    [actor] = await residents(committed_db, 1)
    await reward(committed_db, stock=5)

    answers = await race(committed_client, [(actor, "same-key")] * 10)

    assert {a.status_code for a in answers} == {201}
    assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    assert len({a.json()["id"] for a in answers}) == 1
    async with committed_db.unit_of_work() as session:
        assert await ledger.balance(session, account=wallet(actor.id)) == 100 - COST
        left = (await points.get_reward(session, code="lantern", public=False)).stock_left
    assert left == 4


async def test_two_keys_against_a_limit_of_one(
    committed_client: httpx.AsyncClient, committed_db: Database
) -> None:
    [actor] = await residents(committed_db, 1, points_each=1000)
    await reward(committed_db, stock=50, per_resident_limit=1)

    answers = await race(committed_client, [(actor, f"key-{i}") for i in range(8)])

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: 7}, statuses
    assert {a.json()["type"].rsplit(":", 1)[-1] for a in answers if a.status_code == 409} == {
        "redemption-limit-reached"
    }
    async with committed_db.unit_of_work() as session:
        assert await ledger.balance(session, account=wallet(actor.id)) == 1000 - COST
