"""Writing a feed chunk's awards: the award rows, one ledger entry each (posted in one call),
the residents' notices and their rankings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import ledger
import notifications
from core import clock
from core.ids import new_id
from core.redis import get_redis
from points import accounts, calendar
from points.models import AwardStatus
from points.repository import feeds as repo
from points.service import rankings
from points.service.feed_batch import Batch, FeedClaim, Outcome

TOPIC = "points.awarded"


def award_row(batch: Batch, claim: FeedClaim, now: datetime) -> dict[str, Any]:
    behaviour, row = claim.behaviour, claim.row
    assert behaviour is not None
    return {
        "id": new_id(),
        "issued_by": batch.issued_by,
        "idempotency_key": row.record_id,
        "request_hash": claim.request_hash,
        "resident_id": claim.resident_id,
        "staff_id": None,
        "behaviour_id": behaviour.id,
        "behaviour_code": behaviour.code,
        "category": behaviour.category,
        "community": row.community,
        "quantity_milli": int(row.quantity * 1000),
        "points": claim.points,
        "evidence": None,
        "earn_code_id": None,
        "status": AwardStatus.POSTED.value,
        "occurred_at": row.occurred_at,
        "expires_at": calendar.expiry_for(row.occurred_at),
        "entry_id": None,
        "created_at": now,
        "reversed_points": 0,
    }


async def post(
    session: AsyncSession, batch: Batch, claims: list[FeedClaim], outcome: Outcome
) -> None:
    """One ledger entry per award, issuer to wallet with its expiry lot, all in one call; then
    the awards point at their entries and the residents' notices are queued."""
    await accounts.open_wallets(session, {c.resident_id for c in claims})  # cached once open
    for category in sorted({c.award["category"] for c in claims}):
        await accounts.open_issuer(session, category)
    posted = await ledger.post_entries(session, [ledger_entry(batch, c) for c in claims])
    entry_ids = {entry.key: entry.id for entry in posted}
    await repo.set_entry_ids(
        session, {c.award["id"]: entry_ids[f"award:{c.award['id']}"] for c in claims}
    )
    await notifications.enqueue_many(session, [notice(c) for c in claims])
    now = clock.now()
    await rankings.record_awards_for_ranking(
        session, get_redis(), [(c.resident_id, c.award["points"], now) for c in claims]
    )


def ledger_entry(batch: Batch, claim: FeedClaim) -> ledger.EntryIn:
    award, behaviour = claim.award, claim.behaviour
    assert behaviour is not None
    return ledger.EntryIn(
        key=f"award:{award['id']}",
        postings=[
            ledger.PostingIn(account=accounts.issuer(award["category"]), amount=-claim.points),
            ledger.PostingIn(
                account=accounts.wallet(claim.resident_id),
                amount=claim.points,
                expires_at=award["expires_at"],
            ),
        ],
        actor=batch.issued_by,
        memo=behaviour.title_zh,
        metadata={
            "award_id": str(award["id"]),
            "behaviour": behaviour.code,
            "category": behaviour.category,
            "community": award["community"],
            "record_id": claim.row.record_id,
        },
    )


def notice(claim: FeedClaim) -> dict[str, Any]:
    award, behaviour = claim.award, claim.behaviour
    assert behaviour is not None
    return notifications.message(
        topic=TOPIC,
        resident_id=claim.resident_id,
        payload={
            "award_id": str(award["id"]),
            "points": claim.points,
            "behaviour": behaviour.code,
            "title_zh": behaviour.title_zh,
            "title_en": behaviour.title_en,
            "category": behaviour.category,
            "expires_at": award["expires_at"].isoformat(),
        },
    )
