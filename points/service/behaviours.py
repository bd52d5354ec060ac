"""The published behaviour list (正向行为清单): publish a version from YAML, read the current one.

Versions are never edited: a new document becomes the next version, and the old ones stay so that
every award can cite the rules it was made under."""

from __future__ import annotations

import hashlib
from datetime import datetime

import structlog
import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from points.errors import (
    InvalidBehaviourList,
    NoBehaviourList,
    UnknownBehaviour,
    UnknownBehaviourVersion,
)
from points.models import Behaviour, BehaviourVersion, Unit
from points.repository import behaviours as repository
from points.schemas.behaviours import (
    UNIT_LABELS,
    BehaviourIn,
    BehaviourListIn,
    BehaviourListOut,
    BehaviourOut,
    CapsOut,
    LocalisedOut,
    VersionOut,
)
from points.service.documents import duplicate_codes, validation_problems

log = structlog.get_logger(__name__)


async def publish_behaviours(
    session: AsyncSession, *, document: str, published_by: str
) -> VersionOut:
    """Publish a YAML behaviour list as the next version; the current document again is a no-op.

    Raises InvalidBehaviourList with every problem found, before anything is written."""
    parsed = parse_behaviour_list(document)
    sha256 = hashlib.sha256(document.encode()).hexdigest()
    await repository.lock_publishing(session)  # two publishers would take the same number
    current = await repository.latest_version(session)
    if current is not None and current.source_sha256 == sha256:
        return await _version_out(session, current)
    version = BehaviourVersion(
        number=(current.number + 1) if current else 1,
        published_at=clock.now(),
        published_by=published_by,
        source_sha256=sha256,
        notes=parsed.notes,
    )
    session.add(version)
    await session.flush()
    assert version.id is not None
    session.add_all(_row(version.id, behaviour) for behaviour in parsed.behaviours)
    await session.flush()
    log.info(
        "points.behaviours_published",
        version=version.number,
        behaviours=len(parsed.behaviours),
        published_by=published_by,
    )
    return await _version_out(session, version)


def parse_behaviour_list(document: str) -> BehaviourListIn:
    """The document as a validated list, or InvalidBehaviourList naming every problem."""
    try:
        raw = yaml.safe_load(document)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        problem = getattr(error, "problem", None) or str(error)
        raise InvalidBehaviourList([{"path": where, "message": f"not YAML: {problem}"}]) from None
    errors = duplicate_codes(raw, key="behaviours")
    try:
        parsed = BehaviourListIn.model_validate(raw)
    except ValidationError as error:
        errors = [*validation_problems(error), *errors]
        raise InvalidBehaviourList(errors) from None
    if errors:
        raise InvalidBehaviourList(errors)
    return parsed


async def current_behaviours(
    session: AsyncSession, *, at: datetime | None = None, category: str | None = None
) -> BehaviourListOut:
    """The newest version, with only the behaviours active at `at` (default: now)."""
    version = await repository.latest_version(session)
    if version is None:
        raise NoBehaviourList("Publish one with `wujiang behaviours publish`.")
    assert version.id is not None
    moment = clock.as_utc(at) if at is not None else clock.now()
    rows = await repository.behaviours_of(session, version.id, category=category)
    behaviours = [out for out in map(_behaviour_out, rows) if out.is_active(moment)]
    return BehaviourListOut(
        version=version.number,
        published_at=version.published_at,
        notes=version.notes,
        behaviours=behaviours,
    )


async def current_version(session: AsyncSession) -> VersionOut | None:
    """The newest published version, or None before the first publication."""
    version = await repository.latest_version(session)
    return None if version is None else await _version_out(session, version)


async def get_version(session: AsyncSession, number: int) -> VersionOut:
    """One published version of the list, by its number."""
    version = await repository.version_by_number(session, number)
    if version is None:
        raise UnknownBehaviourVersion(f"Version {number} of the behaviour list does not exist.")
    return await _version_out(session, version)


async def find_behaviour(
    session: AsyncSession, *, code: str, version_id: int | None = None
) -> BehaviourOut:
    """A behaviour by code in the given version (default: the current one), active or not."""
    if version_id is None:
        current = await repository.latest_version(session)
        if current is None:
            raise NoBehaviourList("Publish one with `wujiang behaviours publish`.")
        assert current.id is not None
        version_id = current.id
    row = await repository.behaviour_by_code(session, version_id, code)
    if row is None:
        raise UnknownBehaviour(f"No behaviour {code!r} in that version of the list.")
    return _behaviour_out(row)


def _row(version_id: int, behaviour: BehaviourIn) -> Behaviour:
    return Behaviour(
        version_id=version_id,
        code=behaviour.code,
        category=behaviour.category,
        title_zh=behaviour.title.zh,
        title_en=behaviour.title.en,
        description_zh=behaviour.description.zh,
        description_en=behaviour.description.en,
        points_per_unit=behaviour.points_per_unit,
        unit=behaviour.unit,
        cap_day=behaviour.caps.day,
        cap_week=behaviour.caps.week,
        cap_month=behaviour.caps.month,
        cap_year=behaviour.caps.year,
        certified_by=behaviour.certified_by,
        evidence_required=behaviour.evidence_required,
        active_from=behaviour.active_from,
        active_until=behaviour.active_until,
    )


def _behaviour_out(row: Behaviour) -> BehaviourOut:
    assert row.id is not None
    zh, en = UNIT_LABELS[Unit(row.unit)]
    return BehaviourOut.model_validate(
        {
            "id": row.id,
            "version_id": row.version_id,
            "code": row.code,
            "category": row.category,
            "title": LocalisedOut(zh=row.title_zh, en=row.title_en),
            "description": LocalisedOut(zh=row.description_zh, en=row.description_en),
            "points_per_unit": row.points_per_unit,
            "unit": row.unit,
            "unit_label": LocalisedOut(zh=zh, en=en),
            "caps": CapsOut(
                day=row.cap_day, week=row.cap_week, month=row.cap_month, year=row.cap_year
            ),
            "certified_by": row.certified_by,
            "evidence_required": row.evidence_required,
            "active_from": row.active_from,
            "active_until": row.active_until,
        }
    )


async def _version_out(session: AsyncSession, version: BehaviourVersion) -> VersionOut:
    assert version.id is not None
    return VersionOut(
        id=version.id,
        number=version.number,
        published_at=version.published_at,
        published_by=version.published_by,
        source_sha256=version.source_sha256,
        notes=version.notes,
        behaviour_count=await repository.count_behaviours(session, version.id),
    )
