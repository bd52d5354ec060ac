"""`POST /v1/payments/webhook`: events from the Stripe-compatible payments provider.

No bearer token: the provider signs each delivery (`Stripe-Signature`) over the raw body, which
is why the body is read as bytes and never re-serialised before it is checked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

import points
from api.deps import Session
from api.routing import contract_router
from mobile_contract.problems import raises
from points.errors import InvalidWebhookSignature, PaymentsUnavailable

router = contract_router(prefix="/v1/payments", tags=["partner"])


_signature = APIKeyHeader(
    name="Stripe-Signature",
    scheme_name="PaymentsSignature",
    description="`t=<unix seconds>,v1=<hex HMAC-SHA256 of t.body>` with the webhook secret.",
    auto_error=False,
)


class WebhookAck(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"received": True, "outcome": "issued"}]}
    )

    received: bool
    outcome: str = Field(
        description="What the event did: `issued` (the voucher), `released` (points and stock "
        "given back), `duplicate` (an event id seen before), `unchanged` (the redemption had "
        "moved on), `ignored` (an event type or payment this API does not act on)."
    )


# The provider's event, as far as this API reads it; the rest of the body is ignored but
# still covered by the signature, so the body must reach us byte for byte.
PAYMENT_EVENT_SCHEMA = {
    "title": "PaymentEvent",
    "type": "object",
    "required": ["id", "type", "data"],
    "properties": {
        "id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "The event id: each is applied once.",
        },
        "type": {
            "type": "string",
            "description": "Acted on: `payment_intent.succeeded`, `payment_intent.payment_failed`"
            ", `payment_intent.canceled`; any other type is acknowledged and ignored.",
        },
        "data": {
            "type": "object",
            "required": ["object"],
            "properties": {
                "object": {
                    "type": "object",
                    "description": "The PaymentIntent; its `id` names the redemption's payment.",
                    "properties": {"id": {"type": "string"}},
                    "additionalProperties": True,
                }
            },
            "additionalProperties": True,
        },
    },
    "additionalProperties": True,
    "examples": [
        {
            "id": "evt_3QvX8bKc2Ld9Fz0M1a7Yp4Rt",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": 1742453112,
            "data": {
                "object": {
                    "id": "pi_3QvX7nKc2Ld9Fz0M0h5Vq2Ws",
                    "object": "payment_intent",
                    "amount": 1500,
                    "currency": "cny",
                    "status": "succeeded",
                }
            },
        }
    ],
}


@router.post(
    "/webhook",
    summary="Payment events (signed by the provider)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The provider's event, exactly as it was signed.",
            "content": {"application/json": {"schema": PAYMENT_EVENT_SCHEMA}},
        }
    },
)
@raises(InvalidWebhookSignature, PaymentsUnavailable)
async def payment_webhook(
    session: Session,
    request: Request,
    stripe_signature: Annotated[str | None, Security(_signature)] = None,
) -> WebhookAck:
    """200 for every authentic delivery, replays and unknown event types included (so the
    provider stops retrying); 400 `invalid-webhook-signature` for anything else (a missing or
    wrong signature, or a timestamp more than 5 minutes off). `503 payments-unavailable` where
    points-plus-cash is not configured: the provider retries later."""
    outcome = await points.handle_payment_webhook(
        session,
        payload=await request.body(),
        signature=stripe_signature,
        settings=request.app.state.settings,
    )
    return WebhookAck(received=True, outcome=outcome)
