"""Base of every domain error. Each subclass carries its own RFC 9457 problem type and status."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:wujiang:problem:"
# Request validation is the edge's refusal, not a domain error; its problem type is fixed here so
# the handler and the contract say the same.
VALIDATION_PROBLEM_TYPE = "validation-error"
VALIDATION_PROBLEM_TITLE = "The request is not valid"
# Under this path prefix OAuth clients get RFC 6749's own error body, not problem+json.
OAUTH_PATH_PREFIX = "/oauth2/"


def members(**extensions: Any) -> Mapping[str, Any]:
    """Extension members for `DomainError.example_extensions`, read-only."""
    return MappingProxyType(extensions)


class DomainError(Exception):
    """A refusal the caller can act on. Rendered by the edges as problem+json."""

    type: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "The request could not be carried out"
    status: ClassVar[int] = 400
    # Extension members as the contract's example of this refusal shows them (their names and
    # the shape of their values; the values themselves are made up).
    example_extensions: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    # Most refusals undo the whole unit of work. A few must keep what was written before them:
    # a refresh token replayed by a thief revokes the session, a wrong PIN counts towards a lock.
    keeps_changes: bool = False

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_TYPE_PREFIX + cls.type

    def headers(self) -> dict[str, str]:
        """HTTP headers the edges send with this refusal. A whole-second `retry_after` extension
        becomes `Retry-After`, so clients that only read headers back off too."""
        retry_after = self.extensions.get("retry_after")
        if isinstance(retry_after, int) and not isinstance(retry_after, bool) and retry_after >= 0:
            return {"Retry-After": str(retry_after)}
        return {}
