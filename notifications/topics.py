"""What residents are told about: every outbox topic, the preference group it belongs to, and
whether it is urgent (urgent notices ignore quiet hours)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Group(enum.StrEnum):
    """The topics a resident switches on and off, per channel."""

    POINTS = "points"
    REWARDS = "rewards"
    EXPIRY = "expiry"  # reminders that points or vouchers are about to lapse, and lapses
    COMMUNITY_NEWS = "community_news"
    SECURITY = "security"  # cannot be switched off
    TICKETS = "tickets"  # progress of the resident's 12345 hotline tickets


class Channel(enum.StrEnum):
    PUSH = "push"
    SMS = "sms"


@dataclass(frozen=True)
class Topic:
    name: str
    group: Group
    urgent: bool = False


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in [
        Topic("points.awarded", Group.POINTS),
        Topic("points.award_rejected", Group.POINTS),
        Topic("points.reversed", Group.POINTS),
        Topic("points.expiring", Group.EXPIRY),
        Topic("points.expired", Group.EXPIRY),
        Topic("rewards.redeemed", Group.REWARDS),
        Topic("rewards.voucher_expiring", Group.EXPIRY),
        Topic("rewards.voucher_expired", Group.EXPIRY),
        Topic("community.news", Group.COMMUNITY_NEWS),
        Topic("security.signed_in", Group.SECURITY, urgent=True),
        Topic("security.refresh_token_reused", Group.SECURITY, urgent=True),
        Topic("tickets.status_changed", Group.TICKETS),
    ]
}

# Which channels a resident gets for each group until they choose: push for everything; SMS
# (which costs money per message) only for what a resident without the app must not miss.
DEFAULT_CHANNELS: dict[Group, dict[Channel, bool]] = {
    Group.POINTS: {Channel.PUSH: True, Channel.SMS: False},
    Group.REWARDS: {Channel.PUSH: True, Channel.SMS: True},
    Group.EXPIRY: {Channel.PUSH: True, Channel.SMS: True},
    Group.COMMUNITY_NEWS: {Channel.PUSH: True, Channel.SMS: False},
    Group.SECURITY: {Channel.PUSH: True, Channel.SMS: True},
    # Callers of 12345 often have no app: their ticket's progress reaches them by SMS too.
    Group.TICKETS: {Channel.PUSH: True, Channel.SMS: True},
}
# Groups whose channels a resident cannot switch off.
LOCKED_GROUPS = frozenset({Group.SECURITY})
