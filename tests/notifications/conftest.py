"""Fixtures of the notification tests: a fake FCM over respx and settings that point at it."""

from tests.notifications.fcm_mock import fake_fcm, fast_sdk_backoff, fcm_settings  # noqa: F401
