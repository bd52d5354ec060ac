"""What the notification services take and return: devices (push tokens), the inbox, and
preferences. Push tokens leave only masked."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from core.pagination import Page
from notifications.topics import Channel, Group

# --- devices ---------------------------------------------------------------------------------

Platform = Literal["android", "ios", "harmony", "web"]
PLATFORMS: frozenset[str] = frozenset({"android", "ios", "harmony", "web"})
MAX_TOKEN_LENGTH = 4096
# Printable ASCII, no spaces: FCM tokens are `[A-Za-z0-9_:-]`, APNs and web push tokens a
# subset of this; anything else is not a token a push service issued.
TOKEN_PATTERN = r"^[!-~]+$"  # noqa: S105 - a pattern, not a secret
# A resident's devices beyond this many: the least recently seen is dropped.
MAX_DEVICES = 20


class PushTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TOKEN_LENGTH,
            pattern=TOKEN_PATTERN,
            description="The registration token the push service (FCM) gave the app.",
        ),
    ]
    platform: Platform


class DeviceOut(BaseModel):
    id: uuid.UUID
    token: str = Field(description="Masked: the first 6 characters and an ellipsis.")
    platform: str
    created_at: datetime
    last_seen_at: datetime
    # Whether this registration added the token for the resident (HTTP 201) rather than
    # refreshing one they had already registered (200); not part of the body.
    new: bool = Field(default=False, exclude=True)


# --- inbox -----------------------------------------------------------------------------------


class InboxItemOut(BaseModel):
    id: uuid.UUID
    topic: str
    title: str
    body: str
    data: dict[str, str]
    created_at: datetime
    read_at: datetime | None


class InboxPage(Page[InboxItemOut]):
    """Newest first; `unread` counts every unread item, not only this page's."""

    unread: int


class UnreadCount(BaseModel):
    unread: int


class ReadAllIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: uuid.UUID | None = Field(
        default=None,
        description="Mark only items up to this one (the newest the app has shown), so an item "
        "arriving meanwhile stays unread.",
    )


class MarkedRead(BaseModel):
    marked: int


# --- preferences -----------------------------------------------------------------------------

# "HH:MM", 00:00 to 23:59.
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ClockTime = Annotated[str, Field(pattern=CLOCK_PATTERN, examples=["22:00"])]


class QuietHours(BaseModel):
    """Local (Asia/Shanghai) times: non-urgent notices wait until `end`. A window may cross
    midnight (22:00–08:00); `start` equal to `end` means no quiet hours."""

    model_config = ConfigDict(extra="forbid")

    start: ClockTime
    end: ClockTime


class PreferencesIn(BaseModel):
    """A partial change: only the groups, channels and quiet hours given change."""

    model_config = ConfigDict(extra="forbid")

    groups: dict[Group, dict[Channel, StrictBool]] = Field(
        default_factory=dict,
        examples=[{"points": {"sms": True}, "community_news": {"push": False}}],
    )
    quiet_hours: QuietHours | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.groups and self.quiet_hours is None:
            raise ValueError("give groups, quiet_hours, or both")
        return self


class GroupChannels(BaseModel):
    push: bool
    sms: bool
    # Security notices cannot be switched off.
    locked: bool


class QuietHoursOut(QuietHours):
    timezone: str


class PreferencesOut(BaseModel):
    groups: dict[Group, GroupChannels]
    quiet_hours: QuietHoursOut


class DevicePage(Page[DeviceOut]):
    """The resident's registered devices, most recently seen first."""
