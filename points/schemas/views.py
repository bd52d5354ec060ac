"""What residents see of their points: balances by category, what expires soon, the history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.pagination import Page
from points.schemas.behaviours import LocalisedOut

# What a line of the history is, in words a resident's app can label. Stable: clients switch on it.
# award: points earned; reversal: an award taken back; redemption: points held for a reward;
# refund: held points given back (cancelled, expired or partly used voucher); expiry: points
# lapsed; adjustment: any other movement.
HistoryKind = Literal["award", "reversal", "redemption", "refund", "expiry", "adjustment"]
HISTORY_KINDS: tuple[HistoryKind, ...] = (
    "award",
    "reversal",
    "redemption",
    "refund",
    "expiry",
    "adjustment",
)


class CategoryBalances(BaseModel):
    green: int = 0
    volunteer: int = 0
    cogovernance: int = 0
    # Points in lots no award opened (none today); kept so the categories always sum up.
    other: int = 0


class ExpiringSoon(BaseModel):
    points: int = 0
    earliest_at: datetime | None = None


class PointsSummary(BaseModel):
    """`available` can be spent now; `held` is parked for vouchers not yet used or cancelled;
    `total` is both. `by_category` splits `available` and sums to it."""

    total: int
    available: int
    held: int
    by_category: CategoryBalances
    expiring_within_30_days: ExpiringSoon


class HistoryFilters(BaseModel):
    category: Literal["green", "volunteer", "cogovernance"] | None = None
    kind: HistoryKind | None = None
    # UTC bounds of the local dates asked for: [start, end).
    start: datetime | None = None
    end: datetime | None = None


class BehaviourRef(BaseModel):
    code: str
    title: LocalisedOut


class RewardRef(BaseModel):
    id: uuid.UUID
    title: LocalisedOut


class HistoryItem(BaseModel):
    entry_id: uuid.UUID
    at: datetime
    kind: HistoryKind
    points: int = Field(description="Signed: positive into the wallet, negative out of it.")
    balance_after: int
    category: str | None = None
    behaviour: BehaviourRef | None = None
    reward: RewardRef | None = None


class HistoryPage(Page[HistoryItem]):
    """The wallet's movements, newest first."""
