"""What residents see of their points: balances by category, what expires soon, the history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    """`available` split by where the points came from (绿色生活, 志愿服务, 社会共治)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"green": 420, "volunteer": 610, "cogovernance": 130, "other": 0}]
        }
    )

    green: int = 0
    volunteer: int = 0
    cogovernance: int = 0
    # Points in lots no award opened (none today); kept so the categories always sum up.
    other: int = 0


class ExpiringSoon(BaseModel):
    """Points that lapse within 30 days, and when the first of them do (null: none)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"points": 80, "earliest_at": "2026-12-31T16:00:00Z"}]}
    )

    points: int = 0
    earliest_at: datetime | None = None


class PointsSummary(BaseModel):
    """`available` can be spent now; `held` is parked for vouchers not yet used or cancelled;
    `total` is both. `by_category` splits `available` and sums to it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1260,
                    "available": 1160,
                    "held": 100,
                    "by_category": {
                        "green": 420,
                        "volunteer": 610,
                        "cogovernance": 130,
                        "other": 0,
                    },
                    "expiring_within_30_days": {
                        "points": 80,
                        "earliest_at": "2026-12-31T16:00:00Z",
                    },
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "elderly-care-visit",
                    "title": {"zh": "助老服务", "en": "Elderly-care visit"},
                }
            ]
        }
    )

    code: str
    title: LocalisedOut


class RewardRef(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a11906-3680-7371-b270-8bbd8a1303aa",
                    "title": {"zh": "超市 10 元购物券", "en": "10-yuan supermarket voucher"},
                }
            ]
        }
    )

    id: uuid.UUID
    title: LocalisedOut


class HistoryItem(BaseModel):
    """One movement of the resident's points. `behaviour` is set for awards and reversals,
    `reward` for redemptions and refunds."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entry_id": "01a2106e-6528-7c84-9afb-95d76be3cc06",
                    "at": "2026-11-25T02:00:00Z",
                    "kind": "award",
                    "points": 20,
                    "balance_after": 1260,
                    "category": "volunteer",
                    "behaviour": {
                        "code": "elderly-care-visit",
                        "title": {"zh": "助老服务", "en": "Elderly-care visit"},
                    },
                    "reward": None,
                },
                {
                    "entry_id": "01a22f54-8d1e-7a40-9c55-61b0e2f3d7a8",
                    "at": "2026-12-01T02:00:00Z",
                    "kind": "redemption",
                    "points": -100,
                    "balance_after": 1160,
                    "category": None,
                    "behaviour": None,
                    "reward": {
                        "id": "01a11906-3680-7371-b270-8bbd8a1303aa",
                        "title": {"zh": "超市 10 元购物券", "en": "10-yuan supermarket voucher"},
                    },
                },
            ]
        }
    )

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
