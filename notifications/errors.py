"""Refusals of the notification services. Each names its RFC 9457 problem type; the edges render
them. None carries a push token back, not even masked."""

from __future__ import annotations

from core.errors import DomainError, members


class NotificationError(DomainError):
    type = "notification-error"
    title = "The notification request was refused"
    status = 422


class InvalidPushToken(NotificationError):
    """A token no push service would have issued (empty, too long, spaces, non-ASCII), or a
    platform the app does not run on; `field` says which."""

    type = "invalid-push-token"
    title = "The push token is not valid"
    status = 422

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, field=field)
        self.field = field


class DeviceNotFound(NotificationError):
    type = "push-token-not-found"
    title = "No such push token"
    status = 404


class InboxItemNotFound(NotificationError):
    type = "inbox-item-not-found"
    title = "No such notice"
    status = 404


class PreferenceLocked(NotificationError):
    """A channel of a group that cannot be switched off (security notices)."""

    type = "preference-locked"
    title = "These notices cannot be switched off"
    status = 422
    example_extensions = members(group="security")

    def __init__(self, detail: str, *, group: str) -> None:
        super().__init__(detail, group=group)
        self.group = group
