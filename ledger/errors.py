"""Ledger refusals. Each names its RFC 9457 problem type; the edges render them."""

from __future__ import annotations

from core.cursors import InvalidCursor
from core.errors import DomainError, members

__all__ = ["InvalidCursor"]  # the one cursor refusal, re-exported for the ledger's callers


class LedgerError(DomainError):
    type = "ledger-error"
    title = "The ledger refused the operation"
    status = 422


class InvalidEntry(LedgerError):
    """Postings that cannot form an entry: empty, one-sided, zero, unbalanced, mixed assets."""

    type = "invalid-entry"
    title = "The entry is not a valid double-entry transaction"
    status = 422


class InvalidAccount(LedgerError):
    type = "invalid-account"
    title = "The account definition is not valid"
    status = 422


class UnknownAccount(LedgerError):
    type = "unknown-account"
    title = "No such ledger account"
    status = 404


class AccountConflict(LedgerError):
    type = "account-conflict"
    title = "The account exists with a different asset or flags"
    status = 409


class InsufficientBalance(LedgerError):
    type = "insufficient-balance"
    title = "Not enough balance"
    status = 409
    example_extensions = members(
        account="resident:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b:wallet", balance=120, requested=300
    )


class IdempotencyConflict(LedgerError):
    type = "idempotency-conflict"
    title = "The idempotency key was already used for a different request"
    status = 409
    example_extensions = members(key="reversal:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")


class EntryNotFound(LedgerError):
    type = "entry-not-found"
    title = "No such ledger entry"
    status = 404


class NotReversible(LedgerError):
    type = "entry-not-reversible"
    title = "This entry cannot be reversed"
    status = 409


class AlreadyReversed(LedgerError):
    type = "entry-already-reversed"
    title = "The entry has already been reversed"
    status = 409


class ReversalExceedsRemaining(LedgerError):
    type = "reversal-exceeds-remaining"
    title = "Part of these points has already been spent or has expired"
    status = 409
    example_extensions = members(
        account="resident:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b:wallet", remaining=30, requested=50
    )


class HoldNotFound(LedgerError):
    type = "hold-not-found"
    title = "No such hold"
    status = 404


class HoldNotPending(LedgerError):
    type = "hold-not-pending"
    title = "The hold has already been resolved"
    status = 409


class HoldExpired(LedgerError):
    type = "hold-expired"
    title = "The hold has timed out"
    status = 409
