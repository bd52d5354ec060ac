"""What a resident sees of their points: the summary (by category, expiring soon) and the history.

Per-category balances come from the wallet's lots: each lot was opened by one award's entry, and
points given back after a cancelled redemption return into the very lots they left (the ledger's
`restore`), so a lot's category never changes and the categories always sum to what is
available."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, cursors
from core.pagination import MAX_LIMIT, InvalidCursor, split_page
from points import accounts, calendar
from points.errors import InvalidPointsQuery
from points.repository import views as repository
from points.schemas.behaviours import LocalisedOut
from points.schemas.views import (
    BehaviourRef,
    CategoryBalances,
    ExpiringSoon,
    HistoryFilters,
    HistoryItem,
    HistoryKind,
    HistoryPage,
    PointsSummary,
    RewardRef,
)

EXPIRING_WINDOW = timedelta(days=30)
_CATEGORIES = frozenset({"green", "volunteer", "cogovernance"})


async def points_summary(session: AsyncSession, *, resident_id: uuid.UUID) -> PointsSummary:
    """The resident's balance in total and by category, and what lapses within 30 days."""
    now = clock.now()
    account = await repository.account_id(session, accounts.wallet(resident_id))
    if account is None:  # no award yet: the wallet opens with the first one
        return PointsSummary(
            total=0,
            available=0,
            held=0,
            by_category=CategoryBalances(),
            expiring_within_30_days=ExpiringSoon(),
        )
    by_category: dict[str, int] = dict.fromkeys((*_CATEGORIES, "other"), 0)
    soon = ExpiringSoon()
    for lot in await repository.open_lots(session, account, now):
        by_category[lot.category if lot.category in _CATEGORIES else "other"] += lot.remaining
        if lot.expires_at is not None and lot.expires_at <= now + EXPIRING_WINDOW:
            soon.points += lot.remaining
            if soon.earliest_at is None or lot.expires_at < soon.earliest_at:
                soon.earliest_at = lot.expires_at
    available = sum(by_category.values())
    held = await repository.held_points(session, account)
    return PointsSummary(
        total=available + held,
        available=available,
        held=held,
        by_category=CategoryBalances(**by_category),
        expiring_within_30_days=soon,
    )


def history_filters(
    *,
    category: str | None = None,
    kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> HistoryFilters:
    """Filters from what a resident picked; dates are local and inclusive at both ends."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InvalidPointsQuery("`from` is after `to`.")
    start = calendar.start_of_local_day(date_from) if date_from else None
    end = calendar.end_of_local_day(date_to) if date_to else None
    return HistoryFilters.model_validate(
        {"category": category, "kind": kind, "start": start, "end": end}
    )


async def points_history(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    filters: HistoryFilters | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> HistoryPage:
    """Newest-first movements of the wallet, filtered, one keyset page at a time."""
    filters = filters or HistoryFilters()
    limit = max(1, min(limit, MAX_LIMIT))
    before = decode_cursor(cursor) if cursor else None
    account = await repository.account_id(session, accounts.wallet(resident_id))
    if account is None:
        return HistoryPage(items=[], next_cursor=None)
    rows = await repository.history_rows(
        session,
        account=account,
        resident_id=resident_id,
        filters=filters,
        before_seq=before,
        limit=limit + 1,
    )
    page, next_cursor = split_page(rows, limit, lambda row: encode_cursor(row.seq))
    items = await _items(session, page)
    return HistoryPage(items=items, next_cursor=next_cursor)


async def _items(session: AsyncSession, rows: Any) -> list[HistoryItem]:
    entry_ids = [row.entry_id for row in rows]
    award_entries = entry_ids + [row.reverses_id for row in rows if row.reverses_id]
    awards = await repository.awards_with_behaviours(session, award_entries)
    rewards = await repository.rewards_by_entry(session, entry_ids)
    items = []
    for row in rows:
        award = awards.get(row.entry_id) or (
            awards.get(row.reverses_id) if row.reverses_id else None
        )
        reward = rewards.get(row.entry_id)
        items.append(
            HistoryItem(
                entry_id=row.entry_id,
                at=row.created_at,
                kind=_kind(row.kind, is_award=row.entry_id in awards),
                points=row.amount,
                balance_after=row.balance_after,
                category=award.category if award else None,
                behaviour=_behaviour(award),
                reward=_reward(reward),
            )
        )
    return items


def _kind(ledger_kind: str, *, is_award: bool) -> HistoryKind:
    if ledger_kind == "transfer":
        return "award" if is_award else "adjustment"
    if ledger_kind in repository.REFUND_KINDS:
        return "refund"
    for kind, ledger_kinds in repository.LEDGER_KINDS.items():
        if ledger_kind in ledger_kinds:
            return kind  # type: ignore[return-value]  # the keys are HistoryKind values
    return "adjustment"


def _behaviour(award: Any) -> BehaviourRef | None:
    if award is None:
        return None
    return BehaviourRef(code=award.code, title=LocalisedOut(zh=award.title_zh, en=award.title_en))


def _reward(reward: Any) -> RewardRef | None:
    if reward is None:
        return None
    return RewardRef(id=reward.id, title=LocalisedOut(zh=reward.title_zh, en=reward.title_en))


def encode_cursor(seq: int) -> str:
    return cursors.encode_key("h", str(seq))


def decode_cursor(cursor: str) -> int:
    """The position a cursor stands for; InvalidCursor for anything this list did not issue."""
    text = cursors.decode_key("h", cursor)
    if not text.isdigit() or len(text) > 19 or str(int(text)) != text:
        raise InvalidCursor("The cursor is not one this list issued.")
    return int(text)
