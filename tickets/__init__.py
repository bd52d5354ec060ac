"""12345 hotline tickets: consultations, complaints, suggestions and reports of city problems,
linked to the resident, with their status history and the caller's satisfaction rating.

Other packages call what is re-exported here, never the tables."""

from tickets.errors import (
    InvalidTicket,
    TicketAlreadyRated,
    TicketError,
    TicketNotClosed,
    TicketNotFound,
    TicketTransitionInvalid,
)
from tickets.models import TicketKind, TicketStatus
from tickets.schemas import TicketBrief, TicketEventOut, TicketOut, TicketPage
from tickets.service import (
    STATUS_CHANGED,
    TRANSITIONS,
    change_status,
    create_ticket,
    get_ticket,
    rate_ticket,
    resident_tickets,
    unfinished_tickets,
)

__all__ = [
    "STATUS_CHANGED",
    "TRANSITIONS",
    "InvalidTicket",
    "TicketAlreadyRated",
    "TicketBrief",
    "TicketError",
    "TicketEventOut",
    "TicketKind",
    "TicketNotClosed",
    "TicketNotFound",
    "TicketOut",
    "TicketPage",
    "TicketStatus",
    "TicketTransitionInvalid",
    "change_status",
    "create_ticket",
    "get_ticket",
    "rate_ticket",
    "resident_tickets",
    "unfinished_tickets",
]
