"""Notifications to residents. For now: the transactional outbox that domain services write
their notices to, in the same transaction as the change that causes them; delivery (push, SMS,
inbox) comes with the worker."""

from notifications.models import OutboxMessage
from notifications.outbox import enqueue, enqueue_many, message, pending

__all__ = ["OutboxMessage", "enqueue", "enqueue_many", "message", "pending"]
