"""Per-community monthly rankings, opt-in (privacy by default), served from Redis sorted sets.

`rank:<community>:<YYYY-MM>` scores each opted-in resident by the award points posted to them
in that local month (less reversals), ranked in the community they chose. Redis holds only what
the database can rebuild (`rebuild_rankings`); every read re-checks the opt-in in the database,
so a resident who opted out never shows, even in a set not yet rebuilt."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from points import calendar
from points.errors import InvalidPointsQuery
from points.models import Member
from points.repository import rankings as repository
from points.schemas.rankings import (
    MAX_RANKING_SIZE,
    MyRank,
    RankingChoiceOut,
    RankingEntry,
    RankingOut,
    RebuildResult,
)

log = structlog.get_logger(__name__)


def month_of(at: datetime) -> str:
    """The local month `at` falls in, as `YYYY-MM`."""
    day = calendar.local_date(at)
    return f"{day.year}-{day.month:02d}"


def ranking_key(community: str, month: str) -> str:
    return f"rank:{community}:{month}"


def display_name(resident_id: uuid.UUID) -> str:
    """What a ranking shows for a resident: nothing that identifies them outside the app."""
    return f"居民 ****{resident_id.hex[-4:]}"


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        year, number = (int(part) for part in month.split("-"))
        return calendar.month_bounds(year, number)
    except ValueError as exc:
        raise InvalidPointsQuery("A month is written YYYY-MM.") from exc


async def _score(session: AsyncSession, resident_id: uuid.UUID, month: str) -> int:
    start, end = _month_bounds(month)
    scores = await repository.month_points(
        session, start=start, end=end, resident_ids=[resident_id]
    )
    return scores.get(resident_id, 0)


async def set_ranking_choice(
    session: AsyncSession,
    redis: Redis,
    *,
    resident_id: uuid.UUID,
    opt_in: bool,
    community: str,
) -> RankingChoiceOut:
    """Record the resident's choice; opting in ranks this month's points at once, opting out
    takes them off this month's sets (older months filter them out when read)."""
    month = month_of(clock.now())
    member = await repository.member(session, resident_id)
    previous = member.community if member is not None else None
    if member is None:
        member = Member(resident_id=resident_id, updated_at=clock.now())
        session.add(member)
    member.community, member.ranking_opt_in, member.updated_at = community, opt_in, clock.now()
    await session.flush()
    for old in {previous, community} - {None}:
        await redis.zrem(ranking_key(str(old), month), str(resident_id))
    points = None
    if opt_in:
        points = await _score(session, resident_id, month)
        await redis.zadd(ranking_key(community, month), {str(resident_id): points})
    log.info("points.ranking_choice", opt_in=opt_in, community=community)
    return RankingChoiceOut(
        opt_in=opt_in, community=community, updated_at=member.updated_at, month=month, points=points
    )


async def record_award_for_ranking(
    session: AsyncSession, redis: Redis, *, resident_id: uuid.UUID, points: int, at: datetime
) -> bool:
    """Add an award's points (negative: a reversal) to the resident's ranking for the month of
    `at`, if they opted in; whether they did. Call it after the award's entry is posted."""
    return bool(await record_awards_for_ranking(session, redis, [(resident_id, points, at)]))


async def record_awards_for_ranking(
    session: AsyncSession, redis: Redis, awards: Sequence[tuple[uuid.UUID, int, datetime]]
) -> int:
    """`record_award_for_ranking` for many (resident, points, at) at once, with one opt-in
    lookup (a feed batch); how many were counted.

    Redis is not rolled back with the transaction: a score may briefly include an award whose
    transaction failed at commit. Reads re-check opt-in, and `rankings rebuild` repairs scores."""
    if not awards:
        return 0
    communities = await repository.opted_in(session, list({r for r, _, _ in awards}))
    counted = [(r, p, at) for r, p, at in awards if r in communities]
    for resident_id, points, at in counted:
        key = ranking_key(communities[resident_id], month_of(at))
        await redis.zincrby(key, points, str(resident_id))
    return len(counted)


async def community_ranking(
    session: AsyncSession,
    redis: Redis,
    *,
    community: str,
    month: str | None = None,
    viewer: uuid.UUID | None = None,
    limit: int = 20,
) -> RankingOut:
    """The top `limit` of the community's ranking for `month` (default: this one), masked, and
    the viewer's own place if they are opted in here."""
    month = month or month_of(clock.now())
    _month_bounds(month)
    key = ranking_key(community, month)
    limit = max(1, min(limit, MAX_RANKING_SIZE))
    found = await redis.zrevrange(key, 0, limit * 2 - 1, withscores=True)
    raw = cast(list[tuple[str, float]], found)
    ids = [uuid.UUID(member) for member, _ in raw]
    allowed = await repository.opted_in(session, ids)
    stale = [str(i) for i in ids if allowed.get(i) != community]
    if stale:  # opted out or moved since this set was written: never shown, and dropped
        await redis.zrem(key, *stale)
    entries = _entries(raw, allowed, community=community, viewer=viewer, limit=limit)
    me = await _my_rank(session, redis, key, viewer, community, month) if viewer else None
    return RankingOut(community=community, month=month, entries=entries, me=me)


def _entries(
    raw: list[tuple[str, float]],
    allowed: dict[uuid.UUID, str],
    *,
    community: str,
    viewer: uuid.UUID | None,
    limit: int,
) -> list[RankingEntry]:
    """The first `limit` residents still opted in here, ranked; ties share a rank (1, 1, 3)."""
    entries: list[RankingEntry] = []
    for member, score in raw:
        resident_id = uuid.UUID(member)
        if allowed.get(resident_id) != community or len(entries) == limit:
            continue
        tie = bool(entries) and entries[-1].points == int(score)
        entries.append(
            RankingEntry(
                rank=entries[-1].rank if tie else len(entries) + 1,
                display_name=display_name(resident_id),
                points=int(score),
                me=resident_id == viewer,
            )
        )
    return entries


async def _my_rank(
    session: AsyncSession,
    redis: Redis,
    key: str,
    viewer: uuid.UUID,
    community: str,
    month: str,
) -> MyRank | None:
    if (await repository.opted_in(session, [viewer])).get(viewer) != community:
        return None
    score = await redis.zscore(key, str(viewer))
    if score is None:  # the set was lost or not built yet: put the viewer back
        score = await _score(session, viewer, month)
        await redis.zadd(key, {str(viewer): score})
    above = await redis.zcount(key, f"({score}", "+inf")
    return MyRank(rank=int(above) + 1, points=int(score))


async def rebuild_rankings(
    session: AsyncSession, redis: Redis, *, month: str | None = None
) -> RebuildResult:
    """Rebuild every community's set for `month` (default: this one) from the database.

    Each set is written under a scratch key and renamed over the old one, so readers never see
    a half-built ranking; sets of communities with nobody opted in any more are deleted."""
    month = month or month_of(clock.now())
    start, end = _month_bounds(month)
    members = await repository.opted_in(session)
    scores = await repository.month_points(session, start=start, end=end)
    by_community: dict[str, dict[str, float]] = {}
    for resident_id, community in members.items():
        by_community.setdefault(community, {})[str(resident_id)] = scores.get(resident_id, 0)
    old_keys = {key async for key in redis.scan_iter(match=f"rank:*:{month}", count=500)}
    for community, mapping in by_community.items():
        key = ranking_key(community, month)
        scratch = f"{key}:rebuild"
        await redis.delete(scratch)
        await redis.zadd(scratch, mapping)
        await redis.rename(scratch, key)
    stale = old_keys - {ranking_key(c, month) for c in by_community}
    if stale:
        await redis.delete(*stale)
    log.info("points.rankings_rebuilt", month=month, communities=len(by_community))
    return RebuildResult(month=month, communities=len(by_community), residents=len(members))
