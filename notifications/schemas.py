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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "token": "fG3kT1x9QrS2b7LmNpQ4vW:APA91bHx7Kq2mVw9-example-registration-token",
                    "platform": "android",
                }
            ]
        },
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a21044-5378-7d4e-9b3a-5f1c2d3e4a6b",
                    "token": "fG3kT1…",
                    "platform": "android",
                    "created_at": "2026-11-25T01:14:03.512000Z",
                    "last_seen_at": "2026-11-25T01:14:03.512000Z",
                }
            ]
        }
    )

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
    """A notice as the resident reads it, in their language (Chinese unless they chose
    English); `data` carries `topic` and the ids the app opens the right screen with."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a25363-0cd0-7a13-8b24-1c2d3e4f5a6b",
                    "topic": "points.awarded",
                    "title": "积分到账",
                    "body": "您因「垃圾正确分类投放」获得 2 积分，有效期至 2027年12月31日。"
                    "感谢您为美好吴江出一份力！",
                    "data": {
                        "topic": "points.awarded",
                        "award_id": "01a25363-08e8-7d46-be57-4f5a6b7c8d9e",
                    },
                    "created_at": "2026-12-08T02:02:10.118000Z",
                    "read_at": "2026-12-08T02:15:31.904000Z",
                }
            ]
        }
    )

    id: uuid.UUID
    topic: str = Field(description="The outbox topic, e.g. `points.awarded`.")
    title: str
    body: str
    data: dict[str, str]
    created_at: datetime
    read_at: datetime | None = Field(description="Null while unread.")


class InboxPage(Page[InboxItemOut]):
    """Newest first; `unread` counts every unread item, not only this page's."""

    unread: int = Field(examples=[2])


class UnreadCount(BaseModel):
    unread: int = Field(description="The badge on the bell.", examples=[3])


class ReadAllIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to: uuid.UUID | None = Field(
        default=None,
        description="Mark only items up to this one (the newest the app has shown), so an item "
        "arriving meanwhile stays unread.",
    )


class MarkedRead(BaseModel):
    marked: int = Field(description="How many notices this request marked read.", examples=[3])


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
    locked: bool = Field(description="Security notices cannot be switched off.")


class QuietHoursOut(QuietHours):
    timezone: str = Field(examples=["Asia/Shanghai"])


class PreferencesOut(BaseModel):
    """Every group, each with both channels; what the resident never chose shows the defaults."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "groups": {
                        "points": {"push": True, "sms": False, "locked": False},
                        "rewards": {"push": True, "sms": True, "locked": False},
                        "expiry": {"push": True, "sms": True, "locked": False},
                        "community_news": {"push": False, "sms": False, "locked": False},
                        "security": {"push": True, "sms": True, "locked": True},
                        "tickets": {"push": True, "sms": True, "locked": False},
                    },
                    "quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"},
                }
            ]
        }
    )

    groups: dict[Group, GroupChannels]
    quiet_hours: QuietHoursOut


class DevicePage(Page[DeviceOut]):
    """The resident's registered devices, most recently seen first."""
