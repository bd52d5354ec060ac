"""The rewards catalogue: gifts, discount vouchers and services, added from YAML or by staff,
restocked and switched off by staff, and read by anyone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from points.errors import InvalidReward, RewardNotFound, RewardUnavailable
from points.models import Reward
from points.repository import rewards as repo
from points.schemas.behaviours import LocalisedOut
from points.schemas.rewards import RewardIn, RewardOut, RewardPatch, RewardsIn
from points.service.documents import duplicate_codes, validation_problems

log = structlog.get_logger(__name__)


def parse_rewards(document: str) -> list[RewardIn]:
    """A catalogue file (`rewards: [...]`, a bare list, or one reward) as validated rewards, or
    InvalidReward whose `errors` name every problem with its path."""
    try:
        raw = yaml.safe_load(document)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(document)"
        problem = getattr(error, "problem", None) or str(error)
        raise _invalid([{"path": where, "message": f"not YAML: {problem}"}]) from None
    return _validate(_wrapped(raw), from_json=False)


def parse_rewards_json(body: bytes) -> list[RewardIn]:
    """The same from a JSON request body (where times are ISO 8601 strings)."""
    try:
        raw = json.loads(body)
    except ValueError:
        raise _invalid([{"path": "(document)", "message": "not JSON"}]) from None
    return _validate(_wrapped(raw), from_json=True)


def _wrapped(raw: Any) -> Any:
    if isinstance(raw, list) or (isinstance(raw, dict) and "rewards" not in raw):
        return {"rewards": raw if isinstance(raw, list) else [raw]}
    return raw


def _validate(raw: Any, *, from_json: bool) -> list[RewardIn]:
    """`{"rewards": [...]}` validated strictly, duplicate codes included among the problems."""
    errors = duplicate_codes(raw, key="rewards")
    try:
        if from_json:
            parsed = RewardsIn.model_validate_json(json.dumps(raw))
        else:
            parsed = RewardsIn.model_validate(raw)
    except ValidationError as error:
        raise _invalid([*validation_problems(error), *errors]) from None
    if errors:
        raise _invalid(errors)
    return parsed.rewards


async def add_rewards(session: AsyncSession, *, rewards: Sequence[RewardIn]) -> list[RewardOut]:
    """Add rewards to the catalogue; a code that exists already refuses the whole batch."""
    codes = [reward.code for reward in rewards]
    if len(set(codes)) != len(codes):
        raise _invalid([{"path": "rewards", "message": "a code is used more than once"}])
    taken = await repo.existing_codes(session, codes)
    if taken:
        raise _invalid(
            [
                {"path": f"rewards[{i}].code", "message": f"reward {code!r} exists already"}
                for i, code in enumerate(codes)
                if code in taken
            ]
        )
    now = clock.now()
    await repo.insert_rewards(session, [_row(reward, now) for reward in rewards])
    log.info("points.rewards_added", codes=codes)
    return [await get_reward(session, code=code, public=False) for code in codes]


async def update_reward(session: AsyncSession, *, code: str, patch: RewardPatch) -> RewardOut:
    """Restock (adds to both the total and what is left) or switch a reward on or off."""
    reward = await _find(session, code)
    await repo.update_reward(
        session, reward.id, restock=patch.restock or 0, active=patch.active, now=clock.now()
    )
    log.info("points.reward_updated", code=code, restock=patch.restock, active=patch.active)
    return await get_reward(session, code=code, public=False)


async def list_rewards(session: AsyncSession, *, available_only: bool = True) -> list[RewardOut]:
    """The catalogue; by default only what a resident can redeem now (active, in its window,
    with stock left)."""
    at = clock.now() if available_only else None
    return [reward_out(row) for row in await repo.list_rewards(session, available_at=at)]


async def get_reward(session: AsyncSession, *, code: str, public: bool = True) -> RewardOut:
    """One reward; the public see active ones only (sold out or not yet open included)."""
    reward = await _find(session, code)
    if public and not reward.active:
        raise RewardNotFound(f"No reward {code!r}.")
    return reward_out(reward)


def check_available(reward: Reward, at: datetime) -> None:
    """Refuse a reward that is switched off or outside its validity window."""
    if not reward.active:
        raise RewardUnavailable("This reward has been withdrawn.")
    if reward.valid_from is not None and at < reward.valid_from:
        raise RewardUnavailable("This reward cannot be redeemed yet.", valid_from=reward.valid_from)
    if reward.valid_until is not None and at >= reward.valid_until:
        raise RewardUnavailable("This reward can no longer be redeemed.")


def reward_out(row: Reward) -> RewardOut:
    return RewardOut.model_validate(
        {
            "id": row.id,
            "code": row.code,
            "kind": row.kind,
            "title": LocalisedOut(zh=row.title_zh, en=row.title_en),
            "description": LocalisedOut(zh=row.description_zh, en=row.description_en),
            "points_cost": row.points_cost,
            "cash_cents": row.cash_cents,
            "stock_total": row.stock_total,
            "stock_left": row.stock_left,
            "per_resident_limit": row.per_resident_limit,
            "valid_from": row.valid_from,
            "valid_until": row.valid_until,
            "merchant": row.merchant,
            "voucher_valid_days": row.voucher_valid_days,
            "active": row.active,
        }
    )


async def _find(session: AsyncSession, code: str) -> Reward:
    reward = await repo.reward_by_code(session, code)
    if reward is None:
        raise RewardNotFound(f"No reward {code!r}.")
    await session.refresh(reward)  # stock moves under us: never answer from a stale copy
    return reward


def _row(reward: RewardIn, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "code": reward.code,
        "kind": reward.kind,
        "title_zh": reward.title.zh,
        "title_en": reward.title.en,
        "description_zh": reward.description.zh,
        "description_en": reward.description.en,
        "points_cost": reward.points_cost,
        "cash_cents": reward.cash_cents,
        "stock_total": reward.stock,
        "stock_left": reward.stock,
        "per_resident_limit": reward.per_resident_limit,
        "valid_from": reward.valid_from,
        "valid_until": reward.valid_until,
        "merchant": reward.merchant,
        "voucher_valid_days": reward.voucher_valid_days,
        "active": reward.active,
        "created_at": now,
        "updated_at": now,
    }


def _invalid(errors: list[dict[str, str]]) -> InvalidReward:
    detail = f"{len(errors)} problem(s) in the rewards: " + "; ".join(
        f"{error['path']}: {error['message']}" for error in errors
    )
    return InvalidReward(detail, errors=errors)
