"""Ledger tables. Entries and postings are append-only; only materialised balances, lot
remainders and hold states change after insert."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.db import configure_metadata
from core.db_types import BigIntPK, JSONDoc, UTCDateTime

configure_metadata(SQLModel.metadata)


class AccountFlags(enum.IntFlag):
    """Behaviour switches on an account; stored as an integer bit set."""

    NONE = 0
    # The balance may never drop below zero (resident wallets). Such accounts keep a
    # materialised balance, updated with a conditional UPDATE under a row lock.
    NO_NEGATIVE = 1
    # Credits open expiry lots; debits consume the oldest-expiring lot first.
    LOTS = 2


class Account(SQLModel, table=True):
    __tablename__ = "ledger_account"

    id: uuid.UUID = Field(primary_key=True)
    code: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    asset: str = Field(sa_column=Column(String(16), nullable=False))
    flags: int = Field(default=0, nullable=False)
    # NULL for accounts that are not materialised (issuers, sinks, held): their balance is the
    # sum of their postings, so no row is written by every award.
    balance: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Entry(SQLModel, table=True):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        # Partial: most entries reverse nothing and need no index entry.
        Index(
            "uq_ledger_entry_reverses_id",
            "reverses_id",
            unique=True,
            postgresql_where=text("reverses_id IS NOT NULL"),
            sqlite_where=text("reverses_id IS NOT NULL"),
        ),
    )

    # Insertion order; checkpoints seal contiguous ranges of it.
    seq: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    id: uuid.UUID = Field(nullable=False, unique=True)
    key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    memo: str = Field(default="", sa_column=Column(String(500), nullable=False))
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSONDoc, nullable=False)
    )
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    effective_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # The entry this one reverses; unique (see __table_args__): reversed at most once.
    reverses_id: uuid.UUID | None = Field(default=None, nullable=True)
    # Fingerprint of the request, to tell a replay from a different request under the same key.
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    # HMAC of the entry and its postings; sealed into checkpoints.
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class Posting(SQLModel, table=True):
    __tablename__ = "ledger_posting"
    __table_args__ = (
        Index("ix_ledger_posting_account_seq", "account_id", "seq"),
        Index("ix_ledger_posting_account_created", "account_id", "created_at"),
    )

    seq: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    entry_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("ledger_entry.id"), nullable=False, index=True)
    )
    account_id: uuid.UUID = Field(sa_column=Column(ForeignKey("ledger_account.id"), nullable=False))
    asset: str = Field(sa_column=Column(String(16), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    # Running balance of a materialised account after this posting; NULL otherwise.
    balance_after: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Lot(SQLModel, table=True):
    """Points credited to a LOTS account together, expiring together."""

    __tablename__ = "ledger_lot"
    __table_args__ = (
        Index("ix_ledger_lot_account_open", "account_id", "remaining"),
        Index("ix_ledger_lot_expiring", "expires_at", "remaining"),
    )

    id: uuid.UUID = Field(primary_key=True)
    account_id: uuid.UUID = Field(sa_column=Column(ForeignKey("ledger_account.id"), nullable=False))
    entry_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("ledger_entry.id"), nullable=False, index=True)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    remaining: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class LotUse(SQLModel, table=True):
    """How much of which lot an entry consumed (positive) or gave back (negative)."""

    __tablename__ = "ledger_lot_use"
    __table_args__ = (UniqueConstraint("entry_id", "lot_id"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    entry_id: uuid.UUID = Field(sa_column=Column(ForeignKey("ledger_entry.id"), nullable=False))
    lot_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("ledger_lot.id"), nullable=False, index=True)
    )
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class HoldStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class Hold(SQLModel, table=True):
    """A two-phase transfer: points parked in the held account until posted or voided."""

    __tablename__ = "ledger_hold"
    __table_args__ = (Index("ix_ledger_hold_pending_expiry", "status", "expires_at"),)

    id: uuid.UUID = Field(primary_key=True)
    key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    source_id: uuid.UUID = Field(sa_column=Column(ForeignKey("ledger_account.id"), nullable=False))
    held_id: uuid.UUID = Field(sa_column=Column(ForeignKey("ledger_account.id"), nullable=False))
    asset: str = Field(sa_column=Column(String(16), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    posted_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    entry_id: uuid.UUID = Field(sa_column=Column(ForeignKey("ledger_entry.id"), nullable=False))
    # Set when the hold is claimed, just before its resolution entry is written: checked at commit.
    resolution_entry_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(
            ForeignKey("ledger_entry.id", deferrable=True, initially="DEFERRED"), nullable=True
        ),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class Checkpoint(SQLModel, table=True):
    """A seal over a contiguous range of entries, chained to the checkpoint before it."""

    __tablename__ = "ledger_checkpoint"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    first_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    entry_count: int = Field(nullable=False)
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
