"""Ticket refusals. Each names its RFC 9457 problem type; the edges render them."""

from __future__ import annotations

from core.errors import DomainError, members


class TicketError(DomainError):
    type = "ticket-error"
    title = "The ticket request was refused"
    status = 422


class TicketNotFound(TicketError):
    type = "ticket-not-found"
    title = "No such ticket"
    status = 404


class TicketTransitionInvalid(TicketError):
    """A status change the workflow does not allow (open → in_progress → resolved → closed, or
    straight to closed from open or in_progress); `from_status` and `to_status` say which."""

    type = "ticket-transition-invalid"
    title = "The ticket cannot move to that status"
    status = 409
    example_extensions = members(from_status="closed", to_status="in_progress")

    def __init__(self, detail: str, *, from_status: str, to_status: str) -> None:
        super().__init__(detail, from_status=from_status, to_status=to_status)


class TicketNotClosed(TicketError):
    """The satisfaction rating is taken only once the ticket is closed."""

    type = "ticket-not-closed"
    title = "The ticket is not closed yet"
    status = 409


class TicketAlreadyRated(TicketError):
    """A ticket is rated once; the first rating stands."""

    type = "ticket-already-rated"
    title = "The ticket has already been rated"
    status = 409


class InvalidTicket(TicketError):
    """A ticket (or rating) the service refuses: an empty subject, a rating outside 1–5..."""

    type = "invalid-ticket"
    title = "The ticket request is not valid"
    status = 422
