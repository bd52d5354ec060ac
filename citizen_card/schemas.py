"""Cards and their history as shown: the number masked, the chip UID never."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from citizen_card.models import CardStatus
from core.pagination import Page


class CardOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    resident_id: uuid.UUID
    number: str  # masked: `3205****1234`
    last4: str
    status: CardStatus
    replaces_id: uuid.UUID | None
    pin_set: bool
    # While the PIN lock holds (after 5 wrong PINs); None when the card may be used.
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


class CardEventOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    card_id: uuid.UUID
    from_status: CardStatus | None
    to_status: CardStatus
    actor: str
    channel: str
    reason: str
    at: datetime


class CardPage(Page[CardOut]):
    """A resident's cards, newest first."""


class CardEventPage(Page[CardEventOut]):
    """A card's history, oldest first."""
