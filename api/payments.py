"""`POST /v1/payments/webhook`: events from the Stripe-compatible payments provider.

No bearer token: the provider signs each delivery (`Stripe-Signature`) over the raw body, which
is why the body is read as bytes and never re-serialised before it is checked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

import points
from api.deps import Session

router = APIRouter(prefix="/v1/payments", tags=["partners"])


class WebhookAck(BaseModel):
    received: bool
    outcome: str


@router.post("/webhook", summary="Payment events (signed by the provider)")
async def webhook(
    session: Session,
    request: Request,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
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
