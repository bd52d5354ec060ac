"""Redeeming rewards: hold the resident's points and a unit of stock in one transaction, issue
the voucher (or wait for the cash part), and give both back on cancellation, expiry or a failed
payment.

Every state change is a conditional UPDATE of the redemption's status: whoever moves it owns the
ledger work that goes with it, so a voucher is never both consumed and released. Stock and the
per-resident limit are guarded by conditional statements too, so no race can oversell."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

import ledger
from core import clock, cursors
from core.ids import new_id
from core.pagination import MAX_LIMIT, InvalidCursor, split_page
from core.settings import Settings, get_settings
from ledger.errors import HoldNotPending, InsufficientBalance, UnknownAccount
from notifications import outbox
from points.accounts import wallet
from points.errors import (
    IdempotencyKeyReused,
    InsufficientPoints,
    RedemptionLimitReached,
    RedemptionNotCancellable,
    RedemptionNotFound,
    RewardNotFound,
    SoldOut,
)
from points.models import Redemption, RedemptionStatus, Reward
from points.repository import rewards as repo
from points.schemas.behaviours import LocalisedOut
from points.schemas.rewards import RedemptionOut, RedemptionPage
from points.service import payments, vouchers
from points.service.rewards import check_available

Status = RedemptionStatus
# The ledger's own timeout of a hold is a backstop behind our sweep: it comes a day after the
# voucher (or the payment deadline, plus the longest voucher that payment could still issue).
HOLD_MARGIN = timedelta(days=1)
PAYMENT_WINDOW = timedelta(minutes=30)
TOPIC_REDEEMED = "rewards.redeemed"
TOPIC_EXPIRED = "rewards.voucher_expired"
TOPIC_EXPIRING = "rewards.voucher_expiring"

log = structlog.get_logger(__name__)


async def redeem(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    reward_code: str,
    idempotency_key: str,
    settings: Settings | None = None,
) -> RedemptionOut:
    """Redeem a reward once per Idempotency-Key: the same key and body again is the same
    redemption (`replayed`), the same key with another body IdempotencyKeyReused.

    Refusals found by reading (withdrawn, sold out, over the limit, too few points, no payments)
    come before any write; the conditional writes after them only refuse the losers of a race,
    and the unit of work rolls those back."""
    settings = settings or get_settings()
    reward = await repo.reward_by_code(session, reward_code)
    if reward is None:
        raise RewardNotFound(f"No reward {reward_code!r}.")
    await session.refresh(reward)
    request_hash = _hash({"reward": reward_code})
    existing = await repo.redemption_by_key(session, resident_id=resident_id, key=idempotency_key)
    if existing is not None:
        return await _replay(session, existing, reward, request_hash, settings)
    now = clock.now()
    await _precheck(session, reward, resident_id, now)
    row = _new_row(reward, resident_id, idempotency_key, request_hash, now)
    intent = None
    if reward.cash_cents > 0:
        # Before any write: a provider that refuses leaves nothing behind, and no lock is held
        # while it answers. A race lost below leaves an intent nobody can pay (no secret given).
        payments.require_configured(settings)
        intent = await payments.create_intent(
            settings,
            redemption_id=str(row["id"]),
            amount=reward.cash_cents,
            idempotency_key=f"redemption:{row['id']}",
        )
        row["payment_intent_id"] = intent.id
    if not await repo.insert_redemption(session, row):  # the same key, in a concurrent request
        raced = await repo.redemption_by_key(session, resident_id=resident_id, key=idempotency_key)
        assert raced is not None
        return await _replay(session, raced, reward, request_hash, settings)
    await _reserve(session, reward, row)
    if intent is None:
        await _notify_issued(session, row["id"], reward)
    log.info("points.redeemed", redemption_id=str(row["id"]), reward=reward.code)
    created = await _load(session, row["id"])
    return _out(created, reward, client_secret=intent.client_secret if intent else None)


async def get_redemption(
    session: AsyncSession, *, resident_id: uuid.UUID, redemption_id: uuid.UUID
) -> RedemptionOut:
    """One of the resident's own redemptions; anyone else's is not found."""
    row = await _own(session, resident_id, redemption_id)
    reward = await repo.reward_by_id(session, row.reward_id)
    assert reward is not None
    return _out(row, reward)


async def list_redemptions(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    statuses: Sequence[str] | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> RedemptionPage:
    """The resident's vouchers newest first, by an opaque keyset cursor."""
    limit = max(1, min(limit, MAX_LIMIT))
    before = _decode_cursor(cursor) if cursor else None
    rows = await repo.resident_redemptions(
        session, resident_id=resident_id, statuses=statuses, before=before, limit=limit + 1
    )
    page, next_cursor = split_page(rows, limit, _encode_cursor)
    rewards = await repo.rewards_by_id(session, [row.reward_id for row in page])
    items = [_out(row, rewards[row.reward_id]) for row in page]
    return RedemptionPage(items=items, next_cursor=next_cursor)


async def cancel_redemption(
    session: AsyncSession, *, resident_id: uuid.UUID, redemption_id: uuid.UUID
) -> RedemptionOut:
    """Give up an unused voucher: points released, stock and the limit back. Cancelling a
    cancelled one returns it unchanged."""
    row = await _own(session, resident_id, redemption_id)
    reward = await repo.reward_by_id(session, row.reward_id)
    assert reward is not None
    if row.status == Status.CANCELLED:
        return _out(row, reward)
    if row.cash_cents > 0:
        # The cash part would need a refund, which only the merchant can give.
        raise RedemptionNotCancellable(
            "A voucher with a cash part is cancelled by the merchant, who refunds the cash.",
            redemption_status=row.status,
        )
    now = clock.now()
    moved = row.status == Status.ISSUED and await repo.transition(
        session,
        row.id,
        from_=[Status.ISSUED],
        to=Status.CANCELLED,
        closed_at=now,
        closed_reason="cancelled by the resident",
    )
    if not moved:
        row = await _load(session, row.id)
        if row.status == Status.CANCELLED:
            return _out(row, reward)
        raise RedemptionNotCancellable(
            f"This voucher is {row.status}.", redemption_status=row.status
        )
    await release(session, [row], actor=f"resident:{resident_id}", memo="Voucher cancelled")
    log.info("points.redemption_cancelled", redemption_id=str(row.id))
    return _out(await _load(session, row.id), reward)


async def expire_vouchers(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> int:
    """Close up to `limit` issued vouchers past their expiry and unpaid redemptions past their
    deadline: points released, stock and the limit back. How many were closed.

    Give it a transaction of its own; on PostgreSQL several sweepers skip each other's rows."""
    now = clock.as_utc(now) if now else clock.now()
    rows = await repo.lock_overdue(session, now=now, limit=limit)
    closed = []
    for row in rows:
        reason = "voucher expired" if row.status == Status.ISSUED else "payment not received"
        if await repo.transition(
            session,
            row.id,
            from_=[Status(row.status)],
            to=Status.EXPIRED,
            closed_at=clock.now(),
            closed_reason=reason,
        ):
            closed.append(row)
    await release(session, closed, actor="system:voucher-expiry", memo="Voucher expired")
    rewards = await repo.rewards_by_id(session, [row.reward_id for row in closed])
    await outbox.enqueue_many(
        session,
        [
            outbox.message(
                topic=TOPIC_EXPIRED,
                resident_id=row.resident_id,
                payload=_payload(row.id, rewards[row.reward_id]),
                dedupe_key=f"{TOPIC_EXPIRED}:{row.id}",
            )
            for row in closed
        ],
    )
    if closed:
        log.info("points.vouchers_expired", count=len(closed))
    return len(closed)


async def remind_expiring_vouchers(
    session: AsyncSession,
    *,
    now: datetime | None = None,
    days: int = 3,
    after: uuid.UUID | None = None,
    limit: int = 500,
) -> tuple[int, uuid.UUID | None]:
    """Queue a `rewards.voucher_expiring` notice for up to `limit` unused vouchers that expire
    within `days` (after the id `after`): once per voucher however often it runs. How many were
    looked at, and the id to continue after (None when done)."""
    now = clock.as_utc(now) if now else clock.now()
    rows = await repo.vouchers_expiring(
        session, now=now, until=now + timedelta(days=days), after=after, limit=limit
    )
    rewards = await repo.rewards_by_id(session, [row.reward_id for row in rows])
    await outbox.enqueue_many(
        session,
        [
            outbox.message(
                topic=TOPIC_EXPIRING,
                resident_id=row.resident_id,
                payload=_payload(row.id, rewards[row.reward_id])
                | {"expires_at": row.expires_at.isoformat()},
                dedupe_key=f"{TOPIC_EXPIRING}:{row.id}",
            )
            for row in rows
        ],
    )
    return len(rows), (rows[-1].id if len(rows) == limit else None)


async def release(
    session: AsyncSession, rows: Sequence[Redemption], *, actor: str, memo: str
) -> None:
    """Give back what closed redemptions held: the limit, the points, the stock — in the order
    a redemption takes them (claim, wallet, reward), so the two never deadlock."""
    if not rows:
        return
    await repo.drop_claims(session, [(row.reward_id, row.resident_id) for row in rows])
    for row in sorted(rows, key=lambda r: r.resident_id):
        if row.hold_id is None:
            continue
        try:
            await ledger.void_hold(
                session,
                hold_id=row.hold_id,
                actor=actor,
                key=f"redemption:{row.id}:void",
                memo=memo,
            )
        except HoldNotPending:
            # The ledger's own timeout came first: the points are back already.
            log.warning("points.hold_already_resolved", redemption_id=str(row.id))
    await repo.return_stock(session, Counter(row.reward_id for row in rows))


async def issue_paid(session: AsyncSession, row: Redemption, reward: Reward) -> bool:
    """The cash part is paid: issue the voucher, if the redemption still waits for it."""
    now = clock.now()
    issued = await repo.transition(
        session,
        row.id,
        from_=[Status.AWAITING_PAYMENT],
        to=Status.ISSUED,
        voucher_code=vouchers.new_code(),
        issued_at=now,
        expires_at=now + timedelta(days=reward.voucher_valid_days),
    )
    if issued:
        await _notify_issued(session, row.id, reward)
    return issued


# --- the steps of a redemption -------------------------------------------------------------------


async def _precheck(
    session: AsyncSession, reward: Reward, resident_id: uuid.UUID, now: datetime
) -> None:
    """Refusals that reading can tell, before anything is written."""
    check_available(reward, now)
    limit = reward.per_resident_limit
    if limit is not None:
        held = await repo.claim_count(session, reward_id=reward.id, resident_id=resident_id)
        if held >= limit:
            raise _over_limit(limit)
    if reward.stock_left <= 0:
        raise _sold_out()
    if reward.points_cost > 0:
        try:
            balance = await ledger.balance(session, account=wallet(resident_id))
        except UnknownAccount:
            balance = 0
        if balance < reward.points_cost:
            raise _too_few(balance, reward.points_cost)


async def _reserve(session: AsyncSession, reward: Reward, row: dict[str, Any]) -> None:
    """The conditional writes: the limit, the points, then the stock (the one row every
    redemption of this reward locks, taken last so it is held the shortest time)."""
    if not await repo.add_claim(
        session,
        reward_id=reward.id,
        resident_id=row["resident_id"],
        limit=reward.per_resident_limit,
    ):
        raise _over_limit(reward.per_resident_limit or 0)
    if reward.points_cost > 0:
        hold_expires = row["expires_at"] + HOLD_MARGIN
        if row["status"] == Status.AWAITING_PAYMENT:
            hold_expires += timedelta(days=reward.voucher_valid_days)
        try:
            hold = await ledger.hold(
                session,
                key=f"redemption:{row['id']}:hold",
                source=wallet(row["resident_id"]),
                amount=reward.points_cost,
                expires_at=hold_expires,
                actor=f"resident:{row['resident_id']}",
                memo=f"Reward {reward.code}",
                metadata={"redemption_id": str(row["id"]), "reward": reward.code},
            )
        except InsufficientBalance as error:
            raise _too_few(int(error.extensions.get("balance", 0)), reward.points_cost) from None
        except UnknownAccount:
            raise _too_few(0, reward.points_cost) from None
        await repo.set_redemption(session, row["id"], hold_id=hold.id)
    if not await repo.take_stock(session, reward.id):
        raise _sold_out()


def _new_row(
    reward: Reward, resident_id: uuid.UUID, key: str, request_hash: str, now: datetime
) -> dict[str, Any]:
    paid_later = reward.cash_cents > 0
    return {
        "id": new_id(),
        "resident_id": resident_id,
        "reward_id": reward.id,
        "idempotency_key": key,
        "request_hash": request_hash,
        "points": reward.points_cost,
        "cash_cents": reward.cash_cents,
        "merchant": reward.merchant,
        "status": (Status.AWAITING_PAYMENT if paid_later else Status.ISSUED).value,
        "hold_id": None,
        "voucher_code": None if paid_later else vouchers.new_code(),
        "payment_intent_id": None,
        "expires_at": now
        + (PAYMENT_WINDOW if paid_later else timedelta(days=reward.voucher_valid_days)),
        "created_at": now,
        "issued_at": None if paid_later else now,
    }


async def _replay(
    session: AsyncSession,
    row: Redemption,
    reward: Reward,
    request_hash: str,
    settings: Settings,
) -> RedemptionOut:
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used to redeem another reward.")
    if row.reward_id != reward.id:  # pragma: no cover - the hash covers the reward's code
        raise IdempotencyKeyReused("This Idempotency-Key was used to redeem another reward.")
    secret = None
    if row.status == Status.AWAITING_PAYMENT and row.payment_intent_id:
        intent = await payments.retrieve_intent(settings, intent_id=row.payment_intent_id)
        secret = intent.client_secret
    return _out(row, reward, client_secret=secret, replayed=True)


async def _notify_issued(session: AsyncSession, redemption_id: uuid.UUID, reward: Reward) -> None:
    row = await _load(session, redemption_id)
    await outbox.enqueue(
        session,
        topic=TOPIC_REDEEMED,
        resident_id=row.resident_id,
        payload=_payload(row.id, reward) | {"expires_at": row.expires_at.isoformat()},
        dedupe_key=f"{TOPIC_REDEEMED}:{row.id}",
    )


def _payload(redemption_id: uuid.UUID, reward: Reward) -> dict[str, Any]:
    # Never the voucher code: whoever reads a notice must not be able to spend the voucher.
    return {
        "redemption_id": str(redemption_id),
        "reward": reward.code,
        "title": {"zh": reward.title_zh, "en": reward.title_en},
        "merchant": reward.merchant,
    }


async def _own(
    session: AsyncSession, resident_id: uuid.UUID, redemption_id: uuid.UUID
) -> Redemption:
    row = await repo.redemption_by_id(session, redemption_id)
    if row is None or row.resident_id != resident_id:
        raise RedemptionNotFound("No such redemption.")
    return row


async def _load(session: AsyncSession, redemption_id: uuid.UUID) -> Redemption:
    row = await repo.redemption_by_id(session, redemption_id)
    assert row is not None
    return row


def _out(
    row: Redemption, reward: Reward, *, client_secret: str | None = None, replayed: bool = False
) -> RedemptionOut:
    code = row.voucher_code if row.status in {Status.ISSUED, Status.USED} else None
    return RedemptionOut(
        id=row.id,
        reward=reward.code,
        title=LocalisedOut(zh=reward.title_zh, en=reward.title_en),
        merchant=row.merchant,
        status=row.status,
        points=row.points,
        cash_cents=row.cash_cents,
        voucher_code=code,
        qr_payload=vouchers.qr_payload(code) if code and row.status == Status.ISSUED else None,
        expires_at=row.expires_at,
        created_at=row.created_at,
        issued_at=row.issued_at,
        closed_at=row.closed_at,
        payment_intent_id=row.payment_intent_id,
        client_secret=client_secret,
        replayed=replayed,
    )


def _over_limit(limit: int) -> RedemptionLimitReached:
    return RedemptionLimitReached(
        f"You may redeem this reward at most {limit} time(s).", limit=limit
    )


def _sold_out() -> SoldOut:
    return SoldOut("Every unit of this reward has been redeemed.")


def _too_few(balance: int, needed: int) -> InsufficientPoints:
    return InsufficientPoints(
        f"This reward needs {needed} points; you have {balance}.", balance=balance, needed=needed
    )


def _hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _encode_cursor(row: Redemption) -> str:
    return _encode_position(clock.as_utc(row.created_at), row.id)


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    at, _, last = cursors.decode_key("r", cursor).partition("|")
    try:
        position = clock.as_utc(datetime.fromisoformat(at)), uuid.UUID(last)
    except ValueError:
        raise InvalidCursor("The cursor is not one this list issued.") from None
    if _encode_position(*position) != cursor:
        raise InvalidCursor("The cursor is not one this list issued.")
    return position


def _encode_position(at: datetime, last: uuid.UUID) -> str:
    return cursors.encode_key("r", f"{at.isoformat()}|{last}")
