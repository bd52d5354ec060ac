"""The programme's ledger accounts, named in one place.

- `resident:<uuid>`: a resident's wallet. Never negative; credits open expiry lots.
- `issuer:<category>`: where awarded points come from (green, volunteer, cogovernance). May go
  negative (its balance is minus everything issued) and is not materialised, so it is no hot row.
- `redeemed:<merchant>`: where points spent on a merchant's rewards go."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

import ledger
from ledger import AccountFlags

ASSET = "PT"
WALLET_FLAGS = AccountFlags.NO_NEGATIVE | AccountFlags.LOTS


def wallet(resident_id: uuid.UUID) -> str:
    return f"resident:{resident_id}"


def issuer(category: str) -> str:
    return f"issuer:{category}"


def redeemed(merchant: str) -> str:
    return f"redeemed:{merchant}"


async def open_wallet(session: AsyncSession, resident_id: uuid.UUID) -> str:
    """The resident's wallet, opened on first use; its account code."""
    code = wallet(resident_id)
    await ledger.ensure_account(session, code=code, asset=ASSET, flags=WALLET_FLAGS)
    return code


async def open_wallets(session: AsyncSession, resident_ids: Iterable[uuid.UUID]) -> None:
    """Many residents' wallets at once (a feed batch): one insert for those not yet open."""
    codes = [wallet(r) for r in resident_ids]
    await ledger.ensure_accounts(session, codes=codes, asset=ASSET, flags=WALLET_FLAGS)


async def open_issuer(session: AsyncSession, category: str) -> str:
    code = issuer(category)
    await ledger.ensure_account(session, code=code, asset=ASSET)
    return code


async def open_redeemed(session: AsyncSession, merchant: str) -> str:
    code = redeemed(merchant)
    await ledger.ensure_account(session, code=code, asset=ASSET)
    return code
