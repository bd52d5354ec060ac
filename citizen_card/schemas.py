"""Cards and their history as shown: the number masked, the chip UID never."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from citizen_card.models import CardStatus
from core.pagination import Page


class CardOut(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                # A card bound in place of one reported lost, locked after 5 wrong PINs.
                {
                    "id": "01a1ed80-35c8-7b53-8c64-1d2e3f4a5b6c",
                    "resident_id": "0199c19f-e2a8-7a41-8c2d-3b4e5f6a7b8c",
                    "number": "3205****1234",
                    "last4": "1234",
                    "status": "active",
                    "replaces_id": "019cac2a-cca0-7c3d-9e4f-8a9b0c1d2e3f",
                    "pin_set": True,
                    "locked_until": "2026-12-07T12:40:05.262000Z",
                    "created_at": "2026-11-18T07:12:45.336000Z",
                    "updated_at": "2026-12-06T12:40:05.262000Z",
                }
            ]
        },
    )

    id: uuid.UUID
    resident_id: uuid.UUID
    number: str = Field(
        description="Masked: the issuer prefix and the last four digits, `3205****1234`."
    )
    last4: str
    status: CardStatus
    replaces_id: uuid.UUID | None = Field(description="The card this one replaced, if any.")
    pin_set: bool
    locked_until: datetime | None = Field(
        description="While the PIN lock holds (after 5 wrong PINs); null when the card may be used."
    )
    created_at: datetime
    updated_at: datetime


class CardEventOut(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a1e92d-1018-7e2f-a1b0-6c7d8e9f0a1b",
                    "card_id": "019cac2a-cca0-7c3d-9e4f-8a9b0c1d2e3f",
                    "from_status": "active",
                    "to_status": "reported_lost",
                    "actor": "kiosk:0196e2d0-4b1a-7c2e-8f3d-1a2b3c4d5e6f",
                    "channel": "kiosk",
                    "reason": "reported lost",
                    "at": "2026-11-17T11:03:27.207000Z",
                }
            ]
        },
    )

    id: uuid.UUID
    card_id: uuid.UUID
    from_status: CardStatus | None = Field(description="Null for the card's first event.")
    to_status: CardStatus = Field(
        description="The same as `from_status` for a PIN event (locked, unlocked, reset)."
    )
    actor: str = Field(
        description="`resident:<id>`, `staff:<id>`, `kiosk:<id>`, `hotline` or `system`."
    )
    channel: str = Field(description="`app`, `counter`, `kiosk`, `hotline` or `system`.")
    reason: str
    at: datetime


class CardPage(Page[CardOut]):
    """A resident's cards, newest first."""


class CardEventPage(Page[CardEventOut]):
    """A card's history, oldest first."""
