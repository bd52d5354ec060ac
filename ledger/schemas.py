"""What goes into and comes out of the ledger's service functions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PostingIn(BaseModel):
    """One leg of an entry: a signed amount on an account (credit > 0, debit < 0)."""

    model_config = ConfigDict(frozen=True)

    account: str
    amount: int
    # For a credit into a LOTS account: when these points lapse (None: never).
    expires_at: datetime | None = None


class EntryIn(BaseModel):
    key: str
    postings: list[PostingIn]
    actor: str
    memo: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    effective_at: datetime | None = None


class AccountOut(BaseModel):
    id: uuid.UUID
    code: str
    asset: str
    flags: int
    balance: int | None


class PostingOut(BaseModel):
    account: str
    asset: str
    amount: int
    balance_after: int | None = None


class EntryOut(BaseModel):
    id: uuid.UUID
    seq: int
    key: str
    kind: str
    memo: str
    metadata: dict[str, Any]
    actor: str
    effective_at: datetime
    created_at: datetime
    reverses_id: uuid.UUID | None
    postings: list[PostingOut]
    # True when this call replayed an earlier request with the same key.
    replayed: bool = False


class HoldOut(BaseModel):
    id: uuid.UUID
    key: str
    source: str
    asset: str
    amount: int
    posted_amount: int
    status: str
    expires_at: datetime
    entry_id: uuid.UUID
    resolution_entry_id: uuid.UUID | None
    created_at: datetime
    resolved_at: datetime | None


class LotOut(BaseModel):
    id: uuid.UUID
    entry_id: uuid.UUID
    amount: int
    remaining: int
    expires_at: datetime | None
    created_at: datetime


class StatementLine(BaseModel):
    seq: int
    entry_id: uuid.UUID
    key: str
    kind: str
    memo: str
    amount: int
    balance_after: int
    effective_at: datetime
    created_at: datetime


class StatementPage(BaseModel):
    account: str
    asset: str
    items: list[StatementLine]
    next_cursor: str | None


class ExpiryResult(BaseModel):
    entries: int = 0
    amount: int = 0


class CheckpointOut(BaseModel):
    id: int
    first_seq: int
    last_seq: int
    entry_count: int
    hash: str
    created_at: datetime


class Violation(BaseModel):
    check: str
    detail: str


class VerifyReport(BaseModel):
    accounts: int = 0
    entries: int = 0
    postings: int = 0
    lots: int = 0
    checkpoints: int = 0
    unsealed_entries: int = 0
    violations: list[Violation] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations
