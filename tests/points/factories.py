"""Awards and redemptions as the programme's services leave them, made directly (quicker, and
independent of the award and redemption services' own rules)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

import ledger
import points
from core import clock
from core.db import Database
from core.ids import new_id
from core.settings import get_settings
from points import accounts
from points.calendar import expiry_for
from points.models import Award, AwardStatus, Redemption, RedemptionStatus, Reward

T = TypeVar("T")


def committed(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a committed unit of work on the configured database (for CLI tests, which
    run on a scratch database of their own)."""

    async def main() -> T:
        database = Database(get_settings())
        try:
            async with database.unit_of_work() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(main())


async def publish_default_behaviours(session: AsyncSession) -> None:
    """The default behaviour list, published once."""
    if await points.current_version(session) is None:
        document = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
        await points.publish_behaviours(session, document=document, published_by="test")


async def make_award(
    session: AsyncSession,
    resident_id: uuid.UUID,
    *,
    behaviour: str = "garbage-sorting",
    points_: int = 10,
    community: str = "songling",
    expires_at: datetime | None = None,
) -> Award:
    """A posted award at clock.now(): the Award row and its ledger entry `award:<id>`."""
    await publish_default_behaviours(session)
    found = await points.find_behaviour(session, code=behaviour)
    now = clock.now()
    award = Award(
        id=new_id(),
        issued_by="feed:test",
        idempotency_key=str(new_id()),
        request_hash="0" * 64,
        resident_id=resident_id,
        behaviour_id=found.id,
        behaviour_code=found.code,
        category=found.category,
        community=community,
        quantity_milli=1000,
        points=points_,
        status=AwardStatus.POSTED.value,
        occurred_at=now,
        expires_at=expires_at or expiry_for(now),
        created_at=now,
    )
    wallet = await accounts.open_wallet(session, resident_id)
    issuer = await accounts.open_issuer(session, award.category)
    entry = await ledger.post_entry(
        session,
        key=f"award:{award.id}",
        postings=[
            ledger.PostingIn(account=issuer, amount=-points_),
            ledger.PostingIn(account=wallet, amount=points_, expires_at=award.expires_at),
        ],
        actor="feed:test",
        metadata={
            "award_id": str(award.id),
            "category": award.category,
            "behaviour": award.behaviour_code,
            "community": community,
        },
    )
    award.entry_id = entry.id
    session.add(award)
    await session.flush()
    return award


async def reverse_award(session: AsyncSession, award: Award, points_: int | None = None) -> None:
    """Take back (part of) an award, as the award service's reversal does."""
    assert award.entry_id is not None
    entry = await ledger.reverse(
        session,
        entry_id=award.entry_id,
        key=f"award:{award.id}:reversal",
        actor="staff:test",
        amount=points_,
    )
    award.reversed_points = points_ or award.points
    award.reversal_entry_id = entry.id
    award.reversed_at = clock.now()
    await session.flush()


async def make_reward(session: AsyncSession, *, points_cost: int = 30) -> Reward:
    now = clock.now()
    reward = Reward(
        id=new_id(),
        code=f"reward-{new_id().hex[-8:]}",
        kind="gift",
        title_zh="环保袋",
        title_en="Tote bag",
        description_zh="一个环保袋",
        description_en="A tote bag",
        points_cost=points_cost,
        stock_total=100,
        stock_left=100,
        merchant="songling-store",
        voucher_valid_days=30,
        created_at=now,
        updated_at=now,
    )
    session.add(reward)
    await session.flush()
    return reward


async def make_redemption(
    session: AsyncSession,
    resident_id: uuid.UUID,
    reward: Reward,
    *,
    status: RedemptionStatus = RedemptionStatus.USED,
) -> Redemption:
    """A redemption holding the reward's cost; `used` posts the hold, `cancelled` voids it."""
    now = clock.now()
    redemption_id = new_id()
    held = await ledger.hold(
        session,
        key=f"redemption:{redemption_id}",
        source=accounts.wallet(resident_id),
        amount=reward.points_cost,
        expires_at=now + timedelta(days=30),
        actor=f"resident:{resident_id}",
    )
    if status == RedemptionStatus.USED:
        await accounts.open_redeemed(session, reward.merchant)
        await ledger.post_hold(
            session, hold_id=held.id, destination=accounts.redeemed(reward.merchant), actor="test"
        )
    elif status != RedemptionStatus.ISSUED:
        await ledger.void_hold(session, hold_id=held.id, actor="test")
    redemption = Redemption(
        id=redemption_id,
        resident_id=resident_id,
        reward_id=reward.id,
        idempotency_key=str(redemption_id),
        request_hash="0" * 64,
        points=reward.points_cost,
        cash_cents=0,
        merchant=reward.merchant,
        status=status.value,
        hold_id=held.id,
        voucher_code=redemption_id.hex,
        expires_at=now + timedelta(days=30),
        created_at=now,
        issued_at=now,
        closed_at=None if status == RedemptionStatus.ISSUED else now,
    )
    session.add(redemption)
    await session.flush()
    return redemption
