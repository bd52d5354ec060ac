"""What an expiry sweep and a reminder run did."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class ExpirySweep(BaseModel):
    # Wallets whose expired lots were swept in this batch, and the points that lapsed.
    residents: int = 0
    points: int = 0


class ReminderRun(BaseModel):
    # Residents looked at in this batch, reminders newly queued, and the points they announce.
    residents: int = 0
    reminders: int = 0
    points: int = 0
    # Pass back as `after` for the next batch; None when this was the last one.
    next_after: uuid.UUID | None = None
