"""Payment events from the provider's webhook: a paid cash part issues the voucher, a failed or
cancelled one gives the points and stock back.

Each event id is recorded once, so a replayed event changes nothing twice; an event arriving out
of order (failed after succeeded, succeeded after the deadline closed the redemption) finds the
redemption no longer awaiting payment and changes nothing either."""

from __future__ import annotations

import json
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.settings import Settings, get_settings
from points.errors import PaymentsUnavailable
from points.models import Redemption, RedemptionStatus
from points.repository import rewards as repo
from points.service import payments
from points.service.redemptions import issue_paid, release

SUCCEEDED = "payment_intent.succeeded"
FAILED = {"payment_intent.payment_failed", "payment_intent.canceled"}

log = structlog.get_logger(__name__)


async def handle_payment_webhook(
    session: AsyncSession,
    *,
    payload: bytes,
    signature: str | None,
    settings: Settings | None = None,
) -> str:
    """Verify and apply one webhook delivery; what it did (`issued`, `released`, `duplicate`,
    `unchanged`, `ignored`). Raises InvalidWebhookSignature for a forged or stale delivery."""
    settings = settings or get_settings()
    if settings.payments_webhook_secret is None:
        raise PaymentsUnavailable("No payments webhook secret is configured.")
    payments.verify_signature(
        payload, signature, settings.payments_webhook_secret.get_secret_value()
    )
    event = _event(payload)
    if event is None:
        log.warning("payments.webhook_unreadable")
        return "ignored"
    event_id, event_type, intent = event
    intent_id = intent.get("id") if isinstance(intent.get("id"), str) else None
    if not await repo.record_event(
        session,
        {
            "id": event_id,
            "type": event_type[:64],
            "payment_intent_id": intent_id,
            "received_at": clock.now(),
        },
    ):
        return "duplicate"
    if event_type != SUCCEEDED and event_type not in FAILED:
        return "ignored"
    row = await _redemption(session, intent_id, intent)
    if row is None:
        log.warning("payments.webhook_unmatched", event_id=event_id, event_type=event_type)
        return "ignored"
    outcome = await _apply(session, row, event_type)
    log.info("payments.webhook", event_id=event_id, redemption_id=str(row.id), outcome=outcome)
    return outcome


async def _apply(session: AsyncSession, row: Redemption, event_type: str) -> str:
    reward = await repo.reward_by_id(session, row.reward_id)
    assert reward is not None
    if event_type == SUCCEEDED:
        if await issue_paid(session, row, reward):
            return "issued"
        if row.status != RedemptionStatus.ISSUED:
            # Paid after the redemption was closed: the cash must be refunded by hand.
            log.error("payments.paid_after_close", redemption_id=str(row.id), status=row.status)
        return "unchanged"
    moved = await repo.transition(
        session,
        row.id,
        from_=[RedemptionStatus.AWAITING_PAYMENT],
        to=RedemptionStatus.PAYMENT_FAILED,
        closed_at=clock.now(),
        closed_reason=event_type,
    )
    if not moved:
        return "unchanged"
    await release(session, [row], actor="system:payments", memo="Payment failed")
    return "released"


async def _redemption(
    session: AsyncSession, intent_id: str | None, intent: dict[str, Any]
) -> Redemption | None:
    """The redemption the intent was created for (its id is stored when it is created)."""
    return await repo.redemption_by_intent(session, intent_id) if intent_id else None


def _event(payload: bytes) -> tuple[str, str, dict[str, Any]] | None:
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):  # nested too deep for the parser: not an event either
        return None
    if not isinstance(body, dict):
        return None
    event_id, event_type = body.get("id"), body.get("type")
    data = body.get("data")
    intent = data.get("object") if isinstance(data, dict) else None
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 100 and isinstance(event_type, str)):
        return None
    return event_id, event_type, intent if isinstance(intent, dict) else {}
