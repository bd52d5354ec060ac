"""Rankings: opt-in, privacy, award increments, rebuilds from the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from cli.main import app
from core import clock
from core.ids import new_id
from core.redis import make_redis
from points.errors import InvalidPointsQuery
from points.service import rankings
from tests.points.factories import committed, make_award, reverse_award

runner = CliRunner()

NOV = datetime(2026, 11, 10, 4, tzinfo=UTC)


async def join(
    session: AsyncSession, redis: Redis, resident: uuid.UUID, community: str = "songling"
) -> None:
    await rankings.set_ranking_choice(
        session, redis, resident_id=resident, opt_in=True, community=community
    )


async def test_opting_in_ranks_this_months_points(session: AsyncSession, redis: Redis) -> None:
    alice, bob = new_id(), new_id()
    with clock.frozen(NOV - timedelta(days=15)):  # October: another month
        await make_award(session, alice, points_=100)
    with clock.frozen(NOV):
        award = await make_award(session, alice, points_=30)
        await make_award(session, bob, points_=50, community="elsewhere")  # ranks where he chose
        await reverse_award(session, award, 10)
        await join(session, redis, alice)
        choice = await rankings.set_ranking_choice(
            session, redis, resident_id=bob, opt_in=True, community="songling"
        )
        ranking = await rankings.community_ranking(
            session, redis, community="songling", viewer=alice
        )

    assert (choice.month, choice.points) == ("2026-11", 50)
    assert [(e.rank, e.points, e.me) for e in ranking.entries] == [(1, 50, False), (2, 20, True)]
    assert ranking.entries[1].display_name == f"居民 ****{alice.hex[-4:]}"
    assert ranking.me is not None
    assert (ranking.me.rank, ranking.me.points) == (2, 20)


async def test_nobody_appears_without_opting_in(session: AsyncSession, redis: Redis) -> None:
    shy, keen = new_id(), new_id()
    with clock.frozen(NOV):
        await make_award(session, shy, points_=90)
        await make_award(session, keen, points_=10)
        await join(session, redis, keen)
        # Even a stray score (a rolled-back request, a stale set) is never shown.
        await redis.zadd("rank:songling:2026-11", {str(shy): 90})
        recorded = await rankings.record_award_for_ranking(
            session, redis, resident_id=shy, points=5, at=NOV
        )
        ranking = await rankings.community_ranking(session, redis, community="songling", viewer=shy)

    assert recorded is False
    assert [e.points for e in ranking.entries] == [10]
    assert ranking.me is None
    assert await redis.zscore("rank:songling:2026-11", str(shy)) is None  # and dropped


async def test_opting_out_and_moving_community(session: AsyncSession, redis: Redis) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        await make_award(session, resident, points_=10)
        await join(session, redis, resident, "songling")
        await join(session, redis, resident, "tongli")
        moved = await rankings.community_ranking(session, redis, community="songling")
        there = await rankings.community_ranking(session, redis, community="tongli")
        await rankings.set_ranking_choice(
            session, redis, resident_id=resident, opt_in=False, community="tongli"
        )
        left = await rankings.community_ranking(session, redis, community="tongli")

    assert moved.entries == []
    assert [e.points for e in there.entries] == [10]
    assert left.entries == []
    assert await redis.zcard("rank:tongli:2026-11") == 0


async def test_awards_add_to_the_month_they_are_posted_in(
    session: AsyncSession, redis: Redis
) -> None:
    resident = new_id()
    with clock.frozen(NOV):
        await join(session, redis, resident)
        assert await rankings.record_award_for_ranking(
            session, redis, resident_id=resident, points=7, at=NOV
        )
        # 16:30 UTC on 30 November is already December in Wujiang.
        await rankings.record_award_for_ranking(
            session,
            redis,
            resident_id=resident,
            points=3,
            at=datetime(2026, 11, 30, 16, 30, tzinfo=UTC),
        )
        november = await rankings.community_ranking(session, redis, community="songling")
        december = await rankings.community_ranking(
            session, redis, community="songling", month="2026-12"
        )

    assert [e.points for e in november.entries] == [7]
    assert [e.points for e in december.entries] == [3]


async def test_rebuild_restores_the_sets_from_the_database(
    session: AsyncSession, redis: Redis
) -> None:
    a, b, shy = new_id(), new_id(), new_id()
    with clock.frozen(NOV):
        for resident, points_ in ((a, 40), (b, 40), (shy, 99)):
            await make_award(session, resident, points_=points_)
        await join(session, redis, a)
        await join(session, redis, b, "tongli")
        await redis.flushdb()
        await redis.zadd("rank:gone:2026-11", {str(new_id()): 1})
        result = await rankings.rebuild_rankings(session, redis)
        songling = await rankings.community_ranking(session, redis, community="songling")

    assert (result.month, result.communities, result.residents) == ("2026-11", 2, 2)
    assert [e.points for e in songling.entries] == [40]
    assert await redis.zrange("rank:tongli:2026-11", 0, -1, withscores=True) == [(str(b), 40.0)]
    assert await redis.exists("rank:gone:2026-11") == 0


async def test_ties_share_a_rank(session: AsyncSession, redis: Redis) -> None:
    residents = [new_id() for _ in range(3)]
    with clock.frozen(NOV):
        for resident, points_ in zip(residents, (20, 20, 5), strict=True):
            await make_award(session, resident, points_=points_)
            await join(session, redis, resident)
        ranking = await rankings.community_ranking(
            session, redis, community="songling", viewer=residents[2]
        )

    assert [e.rank for e in ranking.entries] == [1, 1, 3]
    assert ranking.me is not None
    assert ranking.me.rank == 3


async def test_a_month_that_is_not_one_is_refused(session: AsyncSession, redis: Redis) -> None:
    with pytest.raises(InvalidPointsQuery):
        await rankings.community_ranking(session, redis, community="songling", month="2026-13")


def test_cli_rebuild(migrated_database: str) -> None:
    async def seed(session: AsyncSession) -> None:
        with clock.frozen(NOV):
            resident = new_id()
            await make_award(session, resident, points_=12)
            await make_award(session, new_id(), points_=99)  # not opted in
            redis = make_redis("memory://")
            await join(session, redis, resident)
            await redis.aclose()

    committed(seed)
    with clock.frozen(NOV):
        rebuilt = runner.invoke(app, ["points", "rankings", "rebuild"])
    other = runner.invoke(app, ["points", "rankings", "rebuild", "--month", "2026-10"])
    bad = runner.invoke(app, ["points", "rankings", "rebuild", "--month", "2026-1"])

    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rankings for 2026-11: 1 residents in 1 communities" in rebuilt.output
    assert "rankings for 2026-10" in other.output
    assert bad.exit_code == 2
