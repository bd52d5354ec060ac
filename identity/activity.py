"""The digital footprint (数字足迹): every request a resident makes through a channel is
recorded with the channel and device, for the resident to read and export. Channels call
`record` in the use case's transaction, so a refused request leaves no trace of success."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from identity.models import Activity

_activity_t = Activity.__table__  # type: ignore[attr-defined]
DETAIL_VALUE_MAX = 200


async def record(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID,
    channel: str,
    action: str,
    device: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add one line to the resident's trail: `action` (e.g. `points.balance`, `card.report_lost`)
    done through `channel` (`app`, `kiosk`, `tv`, `hotline`) on `device` (a kiosk's name, a TV
    session, the hotline agent). `detail` holds ids and amounts only, never personal data."""
    await session.execute(
        insert(_activity_t),
        [
            {
                "id": new_id(),
                "resident_id": resident_id,
                "channel": channel[:16],
                "device": device[:100] if device else None,
                "action": action[:64],
                "detail": {k: _short(v) for k, v in (detail or {}).items()},
                "at": clock.now(),
            }
        ],
    )


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > DETAIL_VALUE_MAX:
        return value[: DETAIL_VALUE_MAX - 1] + "…"
    return value
