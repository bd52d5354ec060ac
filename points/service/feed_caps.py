"""Caps for feed imports, in bulk: each claim's cap counters, which claims fit, and one
conditional upsert per behaviour and period kind for a whole chunk."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from points import calendar
from points.errors import CapReached
from points.repository import feeds as repo
from points.service import limits
from points.service.feed_batch import FeedClaim, Outcome

PERIOD_ORDER = ("day", "week", "month", "year")  # the order limits.take_caps locks them in

CapKey = tuple[uuid.UUID, str, str]


def claim_caps(claim: FeedClaim) -> list[tuple[str, int, CapKey]]:
    """(period kind, cap, counter key) of each cap on the claim, in locking order."""
    if claim.caps is None:
        assert claim.behaviour is not None
        periods = calendar.periods(claim.row.occurred_at)
        caps = limits.caps_of(claim.behaviour)
        code = claim.behaviour.code
        claim.caps = [
            (kind, caps[kind], (claim.resident_id, code, periods[kind]))
            for kind in PERIOD_ORDER
            if kind in caps
        ]
    return claim.caps


def cap_keys(claims: list[FeedClaim]) -> set[CapKey]:
    return {key for claim in claims for _, _, key in claim_caps(claim)}


def fitting_caps(
    claims: list[FeedClaim], usage: dict[CapKey, int], outcome: Outcome
) -> list[FeedClaim]:
    """Claims that fit their caps given `usage`, taken in file order; the others refused."""
    used = dict(usage)
    fitting = []
    for claim in claims:
        over = next(
            (
                (kind, cap, key)
                for kind, cap, key in claim_caps(claim)
                if used.get(key, 0) + claim.points > cap
            ),
            None,
        )
        if over is None:
            for _, _, key in claim_caps(claim):
                used[key] = used.get(key, 0) + claim.points
            fitting.append(claim)
            continue
        kind, cap, key = over
        spent = used.get(key, 0)
        outcome.refuse(
            claim.row,
            CapReached(
                f"{claim.points} points would pass this behaviour's {kind} cap of {cap} "
                f"({spent} used, {max(cap - spent, 0)} left).",
            ),
        )
    return fitting


async def take_caps(session: AsyncSession, claims: list[FeedClaim]) -> bool:
    """Count every claim against its caps in bulk, one statement per behaviour and period kind;
    False (roll back, nothing to trust) if a counter moved since it was read: a concurrent award
    took the room."""
    groups: dict[tuple[str, int], tuple[int, dict[CapKey, int]]] = {}
    for claim in claims:
        for kind, cap, key in claim_caps(claim):
            _, totals = groups.setdefault((key[1], PERIOD_ORDER.index(kind)), (cap, {}))
            totals[key] = totals.get(key, 0) + claim.points
    for group in sorted(groups):
        cap, totals = groups[group]
        rows = [
            {"resident_id": key[0], "behaviour_code": key[1], "period": key[2], "points": points}
            for key, points in sorted(totals.items())
        ]
        if await repo.raise_caps_within(session, rows, cap) != set(totals):
            return False
    return True
