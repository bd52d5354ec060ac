"""Queries over the rewards catalogue, per-resident claims, redemptions and payment events.

Stock and claims are only ever changed by conditional statements, so no race can oversell or
pass a resident's limit: the database refuses what the predicate does not allow."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.db import is_postgresql, upsert
from points.models import PaymentEvent, Redemption, RedemptionStatus, Reward, RewardClaim

_reward = Reward.__table__  # type: ignore[attr-defined]
_claim = RewardClaim.__table__  # type: ignore[attr-defined]
_redemption = Redemption.__table__  # type: ignore[attr-defined]
_event = PaymentEvent.__table__  # type: ignore[attr-defined]


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# --- catalogue ---------------------------------------------------------------------------------


async def reward_by_code(session: AsyncSession, code: str) -> Reward | None:
    query = select(Reward).where(col(Reward.code) == code)
    return (await session.execute(query)).scalar_one_or_none()


async def reward_by_id(session: AsyncSession, reward_id: uuid.UUID) -> Reward | None:
    return await session.get(Reward, reward_id, populate_existing=True)


async def rewards_by_id(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Reward]:
    if not ids:
        return {}
    query = select(Reward).where(col(Reward.id).in_(set(ids)))
    return {row.id: row for row in (await session.execute(query)).scalars()}


async def existing_codes(session: AsyncSession, codes: Sequence[str]) -> set[str]:
    query = select(col(Reward.code)).where(col(Reward.code).in_(list(codes)))
    return set((await session.execute(query)).scalars())


async def list_rewards(
    session: AsyncSession, *, available_at: datetime | None = None
) -> Sequence[Reward]:
    """Every reward by code; with `available_at`, only those a resident could redeem then."""
    query = select(Reward)
    if available_at is not None:
        query = query.where(
            col(Reward.active).is_(True),
            col(Reward.stock_left) > 0,
            or_(col(Reward.valid_from).is_(None), col(Reward.valid_from) <= available_at),
            or_(col(Reward.valid_until).is_(None), col(Reward.valid_until) > available_at),
        )
    return (await session.execute(query.order_by(col(Reward.code)))).scalars().all()


async def insert_rewards(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(_reward.insert(), list(rows))


async def update_reward(
    session: AsyncSession, reward_id: uuid.UUID, *, restock: int, active: bool | None, now: datetime
) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if restock:
        values["stock_total"] = _reward.c.stock_total + restock
        values["stock_left"] = _reward.c.stock_left + restock
    if active is not None:
        values["active"] = active
    await session.execute(update(_reward).where(_reward.c.id == reward_id).values(**values))


async def take_stock(session: AsyncSession, reward_id: uuid.UUID) -> bool:
    """One unit out of stock, if any is left: the guard against overselling."""
    result = await session.execute(
        update(_reward)
        .where(_reward.c.id == reward_id, _reward.c.stock_left > 0)
        .values(stock_left=_reward.c.stock_left - 1)
    )
    return _rowcount(result) == 1


async def return_stock(session: AsyncSession, counts: dict[uuid.UUID, int]) -> None:
    """Units back into stock, rewards in id order (the order every writer locks them in)."""
    for reward_id in sorted(counts):
        await session.execute(
            update(_reward)
            .where(_reward.c.id == reward_id)
            .values(stock_left=_reward.c.stock_left + counts[reward_id])
        )


# --- per-resident claims ---------------------------------------------------------------------


async def add_claim(
    session: AsyncSession, *, reward_id: uuid.UUID, resident_id: uuid.UUID, limit: int | None
) -> bool:
    """Count one more of the reward for the resident, unless that passes `limit`."""
    if limit is not None and limit < 1:
        return False
    statement = upsert(session, _claim).values(
        reward_id=reward_id, resident_id=resident_id, count=1
    )
    where = None if limit is None else (_claim.c.count + 1 <= limit)
    statement = statement.on_conflict_do_update(
        index_elements=[_claim.c.reward_id, _claim.c.resident_id],
        set_={"count": _claim.c.count + 1},
        where=where,
    )
    return _rowcount(await session.execute(statement)) == 1


async def drop_claims(session: AsyncSession, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """One fewer for each (reward, resident), in key order."""
    for reward_id, resident_id in sorted(pairs):
        await session.execute(
            update(_claim)
            .where(
                _claim.c.reward_id == reward_id,
                _claim.c.resident_id == resident_id,
                _claim.c.count > 0,
            )
            .values(count=_claim.c.count - 1)
        )


async def claim_count(
    session: AsyncSession, *, reward_id: uuid.UUID, resident_id: uuid.UUID
) -> int:
    query = select(_claim.c.count).where(
        _claim.c.reward_id == reward_id, _claim.c.resident_id == resident_id
    )
    return int((await session.execute(query)).scalar_one_or_none() or 0)


# --- redemptions -------------------------------------------------------------------------------


async def insert_redemption(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Insert unless the resident already used this Idempotency-Key; whether it was inserted.
    On PostgreSQL a concurrent insert of the same key waits for the other to end."""
    statement = (
        upsert(session, _redemption)
        .values(**row)
        .on_conflict_do_nothing(
            index_elements=[_redemption.c.resident_id, _redemption.c.idempotency_key]
        )
    )
    return _rowcount(await session.execute(statement)) == 1


async def redemption_by_key(
    session: AsyncSession, *, resident_id: uuid.UUID, key: str
) -> Redemption | None:
    query = select(Redemption).where(
        col(Redemption.resident_id) == resident_id, col(Redemption.idempotency_key) == key
    )
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def redemption_by_id(session: AsyncSession, redemption_id: uuid.UUID) -> Redemption | None:
    return await session.get(Redemption, redemption_id, populate_existing=True)


async def redemption_by_code(session: AsyncSession, code: str) -> Redemption | None:
    query = select(Redemption).where(col(Redemption.voucher_code) == code)
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def redemption_by_intent(session: AsyncSession, intent_id: str) -> Redemption | None:
    query = select(Redemption).where(col(Redemption.payment_intent_id) == intent_id)
    return (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()


async def set_redemption(session: AsyncSession, redemption_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        update(_redemption).where(_redemption.c.id == redemption_id).values(**values)
    )


async def transition(
    session: AsyncSession,
    redemption_id: uuid.UUID,
    *,
    from_: Sequence[RedemptionStatus],
    to: RedemptionStatus,
    **values: Any,
) -> bool:
    """Move a redemption from one of `from_` to `to`; False if another writer moved it first.
    The claim on every state change: whoever moves it owns the ledger work that goes with it."""
    result = await session.execute(
        update(_redemption)
        .where(
            _redemption.c.id == redemption_id, _redemption.c.status.in_([s.value for s in from_])
        )
        .values(status=to.value, **values)
    )
    return _rowcount(result) == 1


async def resident_redemptions(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    statuses: Sequence[str] | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Redemption]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = select(Redemption).where(col(Redemption.resident_id) == resident_id)
    if statuses:
        query = query.where(col(Redemption.status).in_(list(statuses)))
    if before is not None:
        at, last_id = before
        query = query.where(
            or_(
                col(Redemption.created_at) < at,
                and_(col(Redemption.created_at) == at, col(Redemption.id) < last_id),
            )
        )
    query = query.order_by(col(Redemption.created_at).desc(), col(Redemption.id).desc())
    return (await session.execute(query.limit(limit))).scalars().all()


async def lock_overdue(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[Redemption]:
    """Issued vouchers and unpaid redemptions past their deadline, locked (skipping any that
    another transaction holds) so several sweepers never take the same one."""
    query = (
        select(Redemption)
        .where(
            col(Redemption.status).in_(
                [RedemptionStatus.ISSUED.value, RedemptionStatus.AWAITING_PAYMENT.value]
            ),
            col(Redemption.expires_at) <= now,
        )
        .order_by(col(Redemption.expires_at), col(Redemption.id))
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if is_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query)).scalars().all()


async def vouchers_expiring(
    session: AsyncSession,
    *,
    now: datetime,
    until: datetime,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[Redemption]:
    """Issued vouchers that expire after `now` and by `until`, in id order after `after`."""
    query = select(Redemption).where(
        col(Redemption.status) == RedemptionStatus.ISSUED.value,
        col(Redemption.expires_at) > now,
        col(Redemption.expires_at) <= until,
    )
    if after is not None:
        query = query.where(col(Redemption.id) > after)
    query = query.order_by(col(Redemption.id)).limit(limit)
    return (await session.execute(query)).scalars().all()


# --- payment events ----------------------------------------------------------------------------


async def record_event(session: AsyncSession, row: dict[str, Any]) -> bool:
    """Remember a webhook event; False if it was seen before (a replay)."""
    statement = (
        upsert(session, _event).values(**row).on_conflict_do_nothing(index_elements=[_event.c.id])
    )
    return _rowcount(await session.execute(statement)) == 1
