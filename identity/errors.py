"""Identity refusals. Each names its RFC 9457 problem type; the edges render them.

Resident ID numbers are personal data: no message or extension member here ever carries the
number (or any part of it) back to the caller, the logs or a traceback.
"""

from __future__ import annotations

from typing import Literal

from core.errors import DomainError

IdNumberRule = Literal[
    "legacy-15-digit", "length", "characters", "region", "birth-date", "check-character"
]


class IdentityError(DomainError):
    type = "identity-error"
    title = "The identity request was refused"
    status = 422


class InvalidIdNumber(IdentityError):
    """A resident ID number that breaks a GB 11643 rule; `reason` says which one."""

    type = "invalid-id-number"
    title = "The resident ID number is not valid"
    status = 422

    def __init__(self, detail: str, *, reason: IdNumberRule) -> None:
        super().__init__(detail, reason=reason)
        self.reason: IdNumberRule = reason
