"""`POST /v1/payments/webhook`: events from the Stripe-compatible payments provider.

No bearer token: the provider signs each delivery (`Stripe-Signature`) over the raw body, which
is why the body is read as bytes and never re-serialised before it is checked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

import points
from api.deps import Session
from api.routing import contract_router
from mobile_contract.problems import raises
from points.errors import InvalidWebhookSignature

router = contract_router(prefix="/v1/payments", tags=["partner"])


_signature = APIKeyHeader(
    name="Stripe-Signature",
    scheme_name="PaymentsSignature",
    description="`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>` with the webhook secret.",
    auto_error=False,
)


class WebhookAck(BaseModel):
    received: bool
    outcome: str


@router.post("/webhook", summary="Payment events (signed by the provider)")
@raises(InvalidWebhookSignature)
async def payment_webhook(
    session: Session,
    request: Request,
    stripe_signature: Annotated[str | None, Security(_signature)] = None,
) -> WebhookAck:
    """200 for every authentic delivery, replays and unknown event types included (so the
    provider stops retrying); 400 `invalid-webhook-signature` for anything else."""
    outcome = await points.handle_payment_webhook(
        session,
        payload=await request.body(),
        signature=stripe_signature,
        settings=request.app.state.settings,
    )
    return WebhookAck(received=True, outcome=outcome)
