"""Fixtures for HTTP tests that sign residents in: a still clock and a mocked SMS gateway."""

from __future__ import annotations

import pytest
import respx
from pydantic import SecretStr

from core import clock
from tests.api.residents import SMS_URL


@pytest.fixture
def still_clock(redis):  # `redis`: flushed after each test, so codes and limits start afresh
    """Time stands still unless a test moves it: codes, tokens and limits all read core.clock."""
    with clock.frozen(clock.now()):
        yield


@pytest.fixture
def gateways(settings, monkeypatch):
    """The SMS gateway as a respx mock (tests add other services to it)."""
    monkeypatch.setattr(settings, "sms_gateway_url", SMS_URL)
    monkeypatch.setattr(settings, "sms_gateway_token", SecretStr("test-sms-token"))
    with respx.mock(assert_all_called=False) as mock:
        mock.post(SMS_URL).respond(200, json={"ok": True})
        yield mock
