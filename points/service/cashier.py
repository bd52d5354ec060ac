"""A merchant's cashier checks and consumes vouchers. Consuming posts the held points to the
merchant's `redeemed:` account. A cashier only ever sees their own merchants' vouchers: a code of
another merchant is as unknown as a code that does not exist."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

import ledger
from core import clock
from points.accounts import open_redeemed, redeemed
from points.errors import RedemptionNotFound, VoucherNotUsable
from points.models import Redemption, RedemptionStatus, Reward
from points.repository import rewards as repo
from points.schemas.behaviours import LocalisedOut
from points.schemas.rewards import VoucherView
from points.service import vouchers

Status = RedemptionStatus
# Stands for every merchant (a district-wide cashier grant).
ALL_MERCHANTS = "*"

log = structlog.get_logger(__name__)


async def verify_voucher(
    session: AsyncSession, *, code: str, merchants: Collection[str]
) -> VoucherView:
    """What the voucher is and whether it can be used now; changes nothing."""
    row, reward = await _find(session, code, merchants)
    return _view(row, reward)


async def consume_voucher(
    session: AsyncSession,
    *,
    code: str,
    merchants: Collection[str],
    staff_id: uuid.UUID,
    idempotency_key: str,
) -> VoucherView:
    """Use the voucher: its held points go to the merchant. The same cashier's retry with the
    same Idempotency-Key answers the same; any other use of a used voucher is VoucherNotUsable."""
    row, reward = await _find(session, code, merchants)
    key = _ledger_key(row.id, staff_id, idempotency_key)
    now = clock.now()
    moved = (
        row.status == Status.ISSUED
        and row.expires_at > now
        and await repo.transition(
            session,
            row.id,
            from_=[Status.ISSUED],
            to=Status.USED,
            used_by=staff_id,
            closed_at=now,
            closed_reason="used",
        )
    )
    if not moved:
        row = await _reload(session, row.id)
        if await _same_use(session, row, staff_id, key):
            return _view(row, reward, replayed=True)
        status = _effective_status(row)
        raise VoucherNotUsable(f"This voucher is {status}.", voucher_status=status)
    if row.hold_id is not None:
        await open_redeemed(session, row.merchant)
        await ledger.post_hold(
            session,
            hold_id=row.hold_id,
            destination=redeemed(row.merchant),
            actor=f"staff:{staff_id}",
            key=key,
            memo=f"Reward {reward.code} used",
            metadata={"redemption_id": str(row.id)},
        )
    log.info("points.voucher_used", redemption_id=str(row.id), merchant=row.merchant)
    return _view(await _reload(session, row.id), reward)


async def _find(
    session: AsyncSession, typed: str, merchants: Collection[str]
) -> tuple[Redemption, Reward]:
    code = vouchers.normalise(typed)
    row = await repo.redemption_by_code(session, code) if code else None
    if row is None or not (ALL_MERCHANTS in merchants or row.merchant in merchants):
        raise RedemptionNotFound("No such voucher at your merchant.")
    reward = await repo.reward_by_id(session, row.reward_id)
    assert reward is not None
    return row, reward


async def _reload(session: AsyncSession, redemption_id: uuid.UUID) -> Redemption:
    row = await repo.redemption_by_id(session, redemption_id)
    assert row is not None
    return row


async def _same_use(session: AsyncSession, row: Redemption, staff_id: uuid.UUID, key: str) -> bool:
    """Whether the voucher was used by this very request before (a retry)."""
    if row.status != Status.USED or row.used_by != staff_id:
        return False
    if row.hold_id is None:
        return True
    hold = await ledger.get_hold(session, hold_id=row.hold_id)
    if hold.resolution_entry_id is None:
        return False
    return (await ledger.get_entry(session, entry_id=hold.resolution_entry_id)).key == key


def _ledger_key(redemption_id: uuid.UUID, staff_id: uuid.UUID, idempotency_key: str) -> str:
    digest = hashlib.sha256(f"{staff_id}:{idempotency_key}".encode()).hexdigest()[:32]
    return f"redemption:{redemption_id}:use:{digest}"


def _effective_status(row: Redemption) -> str:
    """An issued voucher past its expiry is expired, whether or not the sweep has run."""
    if row.status == Status.ISSUED and row.expires_at <= clock.now():
        return Status.EXPIRED.value
    return row.status


def _view(row: Redemption, reward: Reward, *, replayed: bool = False) -> VoucherView:
    status = _effective_status(row)
    return VoucherView(
        redemption_id=row.id,
        reward=reward.code,
        title=LocalisedOut(zh=reward.title_zh, en=reward.title_en),
        merchant=row.merchant,
        status=status,
        usable=status == Status.ISSUED,
        points=row.points,
        cash_cents=row.cash_cents,
        expires_at=row.expires_at,
        used_at=row.closed_at if row.status == Status.USED else None,
        replayed=replayed,
    )
