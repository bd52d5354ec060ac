"""Base of every domain error. Each subclass carries its own RFC 9457 problem type and status."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:wujiang:problem:"


class DomainError(Exception):
    """A refusal the caller can act on. Rendered by the edges as problem+json."""

    type: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "The request could not be carried out"
    status: ClassVar[int] = 400

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_TYPE_PREFIX + cls.type
