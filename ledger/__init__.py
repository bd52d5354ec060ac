"""The double-entry ledger: accounts, entries, holds, lots and expiry, seals and the verifier.

A library: it knows nothing of behaviours, rewards or residents. Call these functions with an
`AsyncSession`; they flush, never commit — the caller's unit of work owns the transaction."""

from ledger.models import AccountFlags, HoldStatus
from ledger.schemas import (
    AccountOut,
    EntryIn,
    EntryOut,
    ExpiryResult,
    HoldOut,
    LotOut,
    PostingIn,
    StatementPage,
    VerifyReport,
)
from ledger.service.accounts import ensure_account, ensure_accounts, get_account, open_account
from ledger.service.checkpoints import seal, seal_all
from ledger.service.entries import post_entries, post_entry, reverse
from ledger.service.expiry import expire
from ledger.service.holds import expire_holds, get_hold, hold, post_hold, void_hold
from ledger.service.reads import balance, balances, get_entry, lots, statement
from ledger.service.verify import verify

__all__ = [
    "AccountFlags",
    "AccountOut",
    "EntryIn",
    "EntryOut",
    "ExpiryResult",
    "HoldOut",
    "HoldStatus",
    "LotOut",
    "PostingIn",
    "StatementPage",
    "VerifyReport",
    "balance",
    "balances",
    "ensure_account",
    "ensure_accounts",
    "expire",
    "expire_holds",
    "get_account",
    "get_entry",
    "get_hold",
    "hold",
    "lots",
    "open_account",
    "post_entries",
    "post_entry",
    "post_hold",
    "reverse",
    "seal",
    "seal_all",
    "statement",
    "verify",
    "void_hold",
]
