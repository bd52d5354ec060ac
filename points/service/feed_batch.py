"""The state of one feed import: the batch, each row's claim to an award, and what a chunk did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from core.errors import DomainError
from points.models import Behaviour
from points.schemas.feeds import FeedReport, FeedRow, FeedRowError


@dataclass(slots=True)
class FeedClaim:
    row: FeedRow
    resident_id: uuid.UUID
    request_hash: str
    behaviour: Behaviour | None = None
    points: int = 0
    award: dict[str, Any] = field(default_factory=dict)
    caps: list[tuple[str, int, tuple[uuid.UUID, str, str]]] | None = None


@dataclass
class Outcome:
    """What one chunk did; added to the report only once its transaction has committed."""

    imported: int = 0
    duplicates: int = 0
    points: int = 0
    errors: list[FeedRowError] = field(default_factory=list)

    def fail(self, row: FeedRow, reason: str, message: str) -> None:
        self.errors.append(
            FeedRowError(line=row.line, record_id=row.record_id, reason=reason, message=message)
        )

    def refuse(self, row: FeedRow, error: DomainError) -> None:
        self.fail(row, error.type, error.detail)


@dataclass
class Batch:
    source: str
    behaviours: dict[str, Behaviour]
    report: FeedReport

    @property
    def issued_by(self) -> str:
        return f"feed:{self.source}"
