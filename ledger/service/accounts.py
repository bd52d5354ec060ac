"""Opening and looking up ledger accounts."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core import clock
from core.ids import new_id
from ledger import repository as repo
from ledger.errors import AccountConflict, InvalidAccount, UnknownAccount
from ledger.models import AccountFlags
from ledger.repository import AccountRef
from ledger.schemas import AccountOut

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
ASSET = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")
DEFAULT_ASSET = "PT"


async def open_account(
    session: AsyncSession,
    *,
    code: str,
    asset: str = DEFAULT_ASSET,
    flags: AccountFlags = AccountFlags.NONE,
) -> AccountOut:
    """Open the account, or return it if it is already open with the same asset and flags."""
    await ensure_account(session, code=code, asset=asset, flags=flags)
    return await get_account(session, code=code)


async def ensure_account(
    session: AsyncSession,
    *,
    code: str,
    asset: str = DEFAULT_ASSET,
    flags: AccountFlags = AccountFlags.NONE,
) -> None:
    """Open the account unless it is open already with the same asset and flags, without
    reading its balance: for write paths, where summing an issuer's postings would cost more
    than the write itself. An account already open (and committed) costs no query at all."""
    await ensure_accounts(session, codes=[code], asset=asset, flags=flags)


async def ensure_accounts(
    session: AsyncSession,
    *,
    codes: Sequence[str],
    asset: str = DEFAULT_ASSET,
    flags: AccountFlags = AccountFlags.NONE,
) -> None:
    """`ensure_account` for many accounts of one kind: one insert and one lookup for all those
    not already known to be open (a batch import opening thousands of wallets)."""
    known = _cached(session, list(codes))
    missing = sorted(
        {c for c in codes if c not in known or (known[c].asset, known[c].flags) != (asset, flags)}
    )
    if not missing:
        return
    _check_kind(missing, asset, flags)
    now = clock.now()
    balance = 0 if flags & AccountFlags.NO_NEGATIVE else None
    await repo.insert_accounts_if_absent(
        session,
        [
            {"id": new_id(), "code": c, "asset": asset, "flags": int(flags), "balance": balance}
            | {"created_at": now}
            for c in missing
        ],
    )
    for code, found in (await resolve(session, missing)).items():
        if found.asset != asset or found.flags != int(flags):
            raise AccountConflict(
                f"{code} is already open with asset {found.asset} and flags {found.flags}.",
                account=code,
            )


def _check_kind(codes: Sequence[str], asset: str, flags: AccountFlags) -> None:
    if not all(CODE.match(code) for code in codes):
        raise InvalidAccount("Account codes are 1-200 characters of letters, digits and . _ : @ -")
    if not ASSET.match(asset):
        raise InvalidAccount(
            "Assets are 1-16 upper-case letters or digits, starting with a letter."
        )
    if flags & AccountFlags.LOTS and not flags & AccountFlags.NO_NEGATIVE:
        raise InvalidAccount("A LOTS account must also be NO_NEGATIVE.")


async def get_account(session: AsyncSession, *, code: str) -> AccountOut:
    """The account with its current balance (summed from postings if not materialised)."""
    row = await repo.account_row(session, code)
    if row is None:
        raise UnknownAccount(f"No ledger account {code}.", account=code)
    balance = row.balance
    if balance is None:
        balance = await repo.sum_postings(session, row.id)
    return AccountOut(id=row.id, code=row.code, asset=row.asset, flags=row.flags, balance=balance)


async def resolve(session: AsyncSession, codes: list[str]) -> dict[str, AccountRef]:
    """Accounts by code, refusing any that do not exist."""
    found = _cached(session, codes)
    wanted = [c for c in set(codes) if c not in found]
    if wanted:
        loaded = await repo.accounts_by_code(session, wanted)
        _stage(session, loaded)
        found.update(loaded)
    missing = sorted(set(codes) - found.keys())
    if missing:
        raise UnknownAccount(f"No ledger account {missing[0]}.", accounts=missing[:20])
    return found


# An account's id, asset and flags never change once it is committed, so every write need not
# look them up again. Rows read in a transaction are only remembered once it commits: an account
# opened by a transaction that rolls back must not outlive it here.
_STAGED = "ledger.accounts.staged"
_CACHE_LIMIT = 200_000
_cache: dict[tuple[str, str], AccountRef] = {}


def _database_of(session: AsyncSession) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def _cached(session: AsyncSession, codes: list[str]) -> dict[str, AccountRef]:
    database = _database_of(session)
    return {c: ref for c in codes if (ref := _cache.get((database, c))) is not None}


def _stage(session: AsyncSession, accounts: dict[str, AccountRef]) -> None:
    staged = session.sync_session.info.setdefault(_STAGED, {})
    database = _database_of(session)
    staged.update({(database, code): ref for code, ref in accounts.items()})


@event.listens_for(Session, "after_commit")
def _remember_committed(session: Session) -> None:
    staged = session.info.pop(_STAGED, None)
    bind = session.get_bind()
    if isinstance(bind, Connection) and bind.in_transaction():
        # The session's "commit" only released a savepoint inside a transaction it joined
        # (as tests do): that transaction may still roll back, so nothing is committed yet.
        return
    if staged:
        if len(_cache) + len(staged) > _CACHE_LIMIT:
            _cache.clear()
        _cache.update(staged)


@event.listens_for(Session, "after_rollback")
def _forget_staged(session: Session) -> None:
    session.info.pop(_STAGED, None)


def forget_cached_accounts() -> None:
    """Drop the cache; only for when accounts are deleted behind the ledger's back (tests)."""
    _cache.clear()


async def system_account(session: AsyncSession, purpose: str, asset: str) -> AccountRef:
    """The ledger's own account for `purpose` (held, expired) in `asset`, opened on first use."""
    code = f"ledger:{purpose}:{asset}"
    found = _cached(session, [code]) or await repo.accounts_by_code(session, [code])
    if code not in found:
        await open_account(session, code=code, asset=asset)
        found = await repo.accounts_by_code(session, [code])
    _stage(session, found)
    return found[code]
