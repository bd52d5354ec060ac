"""Tickets in and out of the service (not the tables)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

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


_OPENED: JsonDict = {
    "from_status": None,
    "to_status": "open",
    "actor": "agent:A1023",
    "note": None,
    "at": "2026-12-05T01:35:12.604000Z",
}
_DISPATCHED: JsonDict = {
    "from_status": "open",
    "to_status": "in_progress",
    "actor": "agent:A2051",
    "note": "已派单至松陵街道城市管理办公室",
    "at": "2026-12-05T02:10:44.019000Z",
}
_RESOLVED: JsonDict = {
    "from_status": "in_progress",
    "to_status": "resolved",
    "actor": "agent:A2051",
    "note": "路灯线路已维修，现场确认恢复照明",
    "at": "2026-12-06T08:30:15.772000Z",
}
_CLOSED: JsonDict = {
    "from_status": "resolved",
    "to_status": "closed",
    "actor": "agent:A1023",
    "note": "已回访来电人，确认问题解决",
    "at": "2026-12-07T01:05:03.118000Z",
}


class TicketEventOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_DISPATCHED]})

    from_status: TicketStatus | None = Field(description="Null for the ticket's filing.")
    to_status: TicketStatus
    actor: str = Field(description="`agent:<agent id>` (never a name).")
    note: str | None
    at: datetime


class TicketOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "01a243d7-4adc-7a42-9b53-0c1d2e3f4a5b",
                    "number": "WJ20261205-000042",
                    "resident_id": "0199c19f-e2a8-7a41-8c2d-3b4e5f6a7b8c",
                    "kind": "report",
                    "subject": "中山南路路灯不亮",
                    "body": "来电人反映松陵街道中山南路与鲈乡南路交叉口附近路灯连续三晚不亮，"
                    "夜间行人通行不便，希望尽快维修。",
                    "channel": "hotline",
                    "status": "closed",
                    "created_by": "agent:A1023",
                    "created_at": "2026-12-05T01:35:12.604000Z",
                    "updated_at": "2026-12-07T01:05:03.118000Z",
                    "closed_at": "2026-12-07T01:05:03.118000Z",
                    "rating": 5,
                    "rated_at": "2026-12-07T01:06:20.550000Z",
                    "events": [_OPENED, _DISPATCHED, _RESOLVED, _CLOSED],
                }
            ]
        },
    )

    id: uuid.UUID
    number: str = Field(
        description="`WJ` + local date + a sequence of the day: what the agent reads out.",
        examples=["WJ20261205-000042"],
    )
    resident_id: uuid.UUID | None = Field(description="Null for a caller we could not link.")
    kind: TicketKind
    subject: str
    body: str
    channel: str
    status: TicketStatus
    created_by: str = Field(description="`agent:<agent id>`.")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    rating: int | None = Field(description="The caller's satisfaction, 1 to 5, once closed.")
    rated_at: datetime | None
    events: list[TicketEventOut] = Field(
        default=[],
        description="The status history, oldest first: filled when one ticket is read, empty "
        "in lists.",
    )


class TicketBrief(BaseModel):
    """What an agent sees of a caller's unfinished tickets."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": "WJ20261207-000118",
                    "kind": "consultation",
                    "status": "open",
                    "created_at": "2026-12-07T06:48:31.250000Z",
                }
            ]
        }
    )

    number: str
    kind: TicketKind
    status: TicketStatus
    created_at: datetime


class TicketPage(Page[TicketOut]):
    """The resident's tickets, newest first."""
