"""Awarding points: a staff member certifies a behaviour from the published list.

One transaction per award: the award row (which claims the idempotency key and the earning
code), the caps, the staff member's budget, and — unless it must wait for an approver — the
ledger entry from the category's issuer to the resident's wallet, with its expiry lot, and the
outbox row that tells the resident. Any refusal rolls all of it back."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

import ledger
import notifications
from core import clock
from core.ids import new_id
from core.redis import get_redis
from core.settings import get_settings
from identity import residents
from identity.errors import ResidentNotFound
from points import accounts, calendar
from points.errors import (
    BehaviourNotActive,
    EarnCodeUsed,
    EvidenceRequired,
    IdempotencyKeyReused,
    InvalidAward,
    NoBehaviourList,
    NotCertifier,
    UnknownBehaviour,
    UnknownResident,
)
from points.models import Award, AwardStatus, Behaviour
from points.repository import awards as repo
from points.repository import behaviours as behaviour_repo
from points.schemas.awards import AwardIn, AwardOut, StaffActor
from points.service import earn_codes, fraud, limits, rankings

log = structlog.get_logger(__name__)

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Claim:
    """An award about to be made, whoever asks (a staff member or a feed)."""

    issued_by: str
    key: str
    request_hash: str
    resident_id: uuid.UUID
    staff_id: uuid.UUID | None
    behaviour: Behaviour
    community: str
    quantity_milli: int
    evidence: dict[str, Any] | None
    earn_code_id: str | None
    occurred_at: datetime


async def award(
    session: AsyncSession, *, request: AwardIn, staff: StaffActor, idempotency_key: str
) -> AwardOut:
    """Award points for a certified behaviour; a retry with the same key replays the result."""
    check_key(idempotency_key)
    request_hash = fingerprint(request.model_dump(mode="json"))
    earlier = await repo.by_key(session, staff.issued_by, idempotency_key)
    if earlier is not None:
        return await replay(session, earlier, request_hash)
    resident_id, code_id = await _resident_of(session, request)
    behaviour = await current_behaviour(session, request.behaviour, at=clock.now())
    _check_certifier(behaviour, staff, request.community)
    if behaviour.evidence_required and request.evidence is None:
        raise EvidenceRequired(f"Add evidence (a note or photos) for {behaviour.code!r}.")
    claim = Claim(
        issued_by=staff.issued_by,
        key=idempotency_key,
        request_hash=request_hash,
        resident_id=resident_id,
        staff_id=staff.id,
        behaviour=behaviour,
        community=request.community,
        quantity_milli=quantity_milli(request.quantity, behaviour),
        evidence=request.evidence.model_dump(mode="json") if request.evidence else None,
        earn_code_id=code_id,
        occurred_at=clock.now(),
    )
    threshold = get_settings().points_approval_threshold
    return await make(session, claim, needs_approval=points_for(claim) > threshold)


async def make(session: AsyncSession, claim: Claim, *, needs_approval: bool) -> AwardOut:
    """Record the award, count it against caps and budget, and post it unless it needs approval."""
    now = clock.now()
    row = _row(claim, now, AwardStatus.PENDING if needs_approval else AwardStatus.POSTED)
    if not await repo.insert_award(session, row):
        return await _lost_race(session, claim)
    await limits.take_caps(
        session,
        behaviour=claim.behaviour,
        resident_id=claim.resident_id,
        occurred_at=claim.occurred_at,
        points=row["points"],
    )
    if claim.staff_id is not None:
        await limits.take_budget(session, staff_id=claim.staff_id, at=now, points=row["points"])
    found = Award(**row)  # as inserted: no need to read it back
    if not needs_approval:
        await post(session, found, claim.behaviour)
    await fraud.check(session, found)
    log.info("points.award_recorded", award_id=str(found.id), points=found.points)
    return await to_out(session, found)


async def post(session: AsyncSession, row: Award, behaviour: Behaviour) -> None:
    """Move the award's points: one ledger entry, issuer to wallet, with an expiry lot."""
    # Cached once committed: no query for a wallet or issuer that is already open.
    await accounts.open_wallet(session, row.resident_id)
    await accounts.open_issuer(session, row.category)
    entry = await _post_entry(session, row, behaviour)
    await repo.set_values(
        session, row.id, {"status": AwardStatus.POSTED.value, "entry_id": entry.id}
    )
    row.status, row.entry_id = AwardStatus.POSTED.value, entry.id
    await rankings.record_award_for_ranking(
        session, get_redis(), resident_id=row.resident_id, points=row.points, at=clock.now()
    )
    await notifications.enqueue(
        session,
        topic="points.awarded",
        resident_id=row.resident_id,
        payload={
            "award_id": str(row.id),
            "points": row.points,
            "behaviour": row.behaviour_code,
            "title_zh": behaviour.title_zh,
            "title_en": behaviour.title_en,
            "category": row.category,
            "expires_at": row.expires_at.isoformat(),
        },
    )


async def _post_entry(session: AsyncSession, row: Award, behaviour: Behaviour) -> ledger.EntryOut:
    return await ledger.post_entry(
        session,
        key=f"award:{row.id}",
        postings=[
            ledger.PostingIn(account=accounts.issuer(row.category), amount=-row.points),
            ledger.PostingIn(
                account=accounts.wallet(row.resident_id),
                amount=row.points,
                expires_at=row.expires_at,
            ),
        ],
        actor=row.issued_by,
        memo=behaviour.title_zh,
        metadata={
            "award_id": str(row.id),
            "behaviour": row.behaviour_code,
            "category": row.category,
            "community": row.community,
        },
    )


async def replay(session: AsyncSession, earlier: Award, request_hash: str) -> AwardOut:
    """The first result of a retried request; IdempotencyKeyReused if the content differs."""
    if earlier.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different award: use a new key."
        )
    return (await to_out(session, earlier)).model_copy(update={"replayed": True})


async def current_behaviour(session: AsyncSession, code: str, *, at: datetime) -> Behaviour:
    """The behaviour `code` in the current list, if it earns points at `at`."""
    found = await repo.current_behaviour(session, code)
    if found is None:
        if await behaviour_repo.latest_version(session) is None:
            raise NoBehaviourList("No behaviour list has been published.")
        raise UnknownBehaviour(f"No behaviour {code!r} in the current list.", behaviour=code)
    behaviour, number = found
    assert behaviour.id is not None
    _version_numbers[behaviour.id] = number
    starts, ends = behaviour.active_from, behaviour.active_until
    if (starts is not None and at < starts) or (ends is not None and at >= ends):
        raise BehaviourNotActive(f"{code!r} does not earn points at this time.", behaviour=code)
    return behaviour


def quantity_milli(quantity: Decimal, behaviour: Behaviour) -> int:
    """The quantity in thousandths of the unit; whole numbers for per-occurrence behaviours."""
    if behaviour.unit == "time" and quantity != quantity.to_integral_value():
        raise InvalidAward(
            f"{behaviour.code!r} counts whole occurrences.", behaviour=behaviour.code
        )
    milli = int(quantity * 1000)
    if milli <= 0 or milli * behaviour.points_per_unit < 1000:
        raise InvalidAward("That quantity earns less than one point.", behaviour=behaviour.code)
    return milli


def points_for(claim: Claim) -> int:
    """Points earned, rounded down to whole points."""
    return claim.quantity_milli * claim.behaviour.points_per_unit // 1000


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidAward(
            f"Send an Idempotency-Key header of 1-{MAX_KEY_LENGTH} printable ASCII characters."
        )


def fingerprint(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate (JSON allows "\ud800") must hash, not fail the request.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


# Behaviour rows and list versions never change once published: each behaviour's version
# number is remembered after its first lookup.
_version_numbers: dict[int, int] = {}


async def to_out(session: AsyncSession, row: Award) -> AwardOut:
    version = _version_numbers.get(row.behaviour_id)
    if version is None:
        _, version = await repo.behaviour_of(session, row.behaviour_id)
        _version_numbers[row.behaviour_id] = version
    return AwardOut(
        id=row.id,
        status=row.status,
        resident_id=row.resident_id,
        staff_id=row.staff_id,
        source=row.issued_by.split(":", 1)[0] if row.staff_id else row.issued_by,
        behaviour=row.behaviour_code,
        behaviour_version=version,
        category=row.category,
        community=row.community,
        quantity=Decimal(row.quantity_milli) / 1000,
        points=row.points,
        evidence=row.evidence,
        occurred_at=row.occurred_at,
        expires_at=row.expires_at,
        created_at=row.created_at,
        entry_id=row.entry_id,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        reversed_points=row.reversed_points,
        reversal_reason=row.reversal_reason,
    )


async def _resident_of(session: AsyncSession, request: AwardIn) -> tuple[uuid.UUID, str | None]:
    if request.code is not None:
        scanned = earn_codes.read(request.code)
        resident_id, code_id = scanned.resident_id, scanned.code_id
    else:
        assert request.resident_id is not None
        resident_id, code_id = request.resident_id, None
    try:
        # Also for a genuine code: its resident may have been removed since.
        await residents.get(session, resident_id=resident_id)
    except ResidentNotFound:
        raise UnknownResident("No resident has that id.") from None
    return resident_id, code_id


def _check_certifier(behaviour: Behaviour, staff: StaffActor, community: str) -> None:
    role = behaviour.certified_by
    if role.startswith("feed:"):
        raise NotCertifier(
            f"{behaviour.code!r} is awarded only by the {role.removeprefix('feed:')} feed.",
            certified_by=role,
        )
    if not staff.can(role, community):
        raise NotCertifier(
            f"Certifying {behaviour.code!r} in {community!r} needs the {role!r} role there.",
            certified_by=role,
            community=community,
        )


def _row(claim: Claim, now: datetime, status: AwardStatus) -> dict[str, Any]:
    return {
        "id": new_id(),
        "issued_by": claim.issued_by,
        "idempotency_key": claim.key,
        "request_hash": claim.request_hash,
        "resident_id": claim.resident_id,
        "staff_id": claim.staff_id,
        "behaviour_id": claim.behaviour.id,
        "behaviour_code": claim.behaviour.code,
        "category": claim.behaviour.category,
        "community": claim.community,
        "quantity_milli": claim.quantity_milli,
        "points": points_for(claim),
        "evidence": claim.evidence,
        "earn_code_id": claim.earn_code_id,
        "status": status.value,
        "occurred_at": claim.occurred_at,
        "expires_at": calendar.expiry_for(claim.occurred_at),
        "entry_id": None,
        "created_at": now,
        "reversed_points": 0,
    }


async def _lost_race(session: AsyncSession, claim: Claim) -> AwardOut:
    # The key, or the earning code for this behaviour, was taken by a transaction that
    # committed meanwhile: replay the former, refuse the latter.
    earlier = await repo.by_key(session, claim.issued_by, claim.key)
    if earlier is not None:
        return await replay(session, earlier, claim.request_hash)
    raise EarnCodeUsed(
        f"This code has already earned {claim.behaviour.code!r}: ask for a fresh code.",
        behaviour=claim.behaviour.code,
    )
