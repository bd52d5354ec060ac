"""Tickets in and out of the service (not the tables)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from core.pagination import Page
from tickets.models import TicketKind, TicketStatus


def _plain_text(text: str) -> str:
    # A NUL or a lone surrogate cannot be stored (PostgreSQL refuses both): refuse them here,
    # as a validation error, rather than fail at the database.
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\r\t" for c in text):
        raise ValueError("control characters are not allowed")
    if not text.strip():
        raise ValueError("must not be blank")
    return text.strip()


Subject = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_text)]
Body = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_plain_text)]
Note = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_plain_text)]
# Who acted: a call-centre agent's id (`A1023`), never a name or a phone number.
AgentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", examples=["A1023"])]
Rating = Annotated[
    int, Field(strict=True, ge=1, le=5, description="Satisfaction, 1 (worst) to 5 (best).")
]


class TicketEventOut(BaseModel):
    from_status: TicketStatus | None
    to_status: TicketStatus
    actor: str
    note: str | None
    at: datetime


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str = Field(examples=["WJ20261125-000042"])
    resident_id: uuid.UUID | None
    kind: TicketKind
    subject: str
    body: str
    channel: str
    status: TicketStatus
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    rating: int | None
    rated_at: datetime | None
    # The status history, oldest first (filled when one ticket is read, empty in lists).
    events: list[TicketEventOut] = []


class TicketBrief(BaseModel):
    """What an agent sees of a caller's unfinished tickets."""

    number: str
    kind: TicketKind
    status: TicketStatus
    created_at: datetime


class TicketPage(Page[TicketOut]):
    """The resident's tickets, newest first."""
