"""The SMS adapters: the gateway over HTTP (mocked with respx), the development console, and the
factory that refuses to fall back to the console outside development."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from structlog.testing import capture_logs

from core.logging import scrub_personal_data
from core.settings import Settings
from identity.errors import SmsUnavailable
from identity.sms import CONSOLE_BANNER, ConsoleSms, HttpSms, SmsNotConfigured, sms_sender
from tests.conftest import TEST_BLIND_INDEX_KEY, TEST_DATA_KEYS, TEST_LEDGER_HASH_KEY

GATEWAY = "https://sms.example.test/v1/messages"
PHONE = "13812345678"
TEXT = "【智慧吴江】验证码 123456，5分钟内有效，请勿告诉他人。"


def _settings(env: str, **overrides: Any) -> Settings:
    if env == "production":
        # Production also insists on the verification service; that is not what is tested here.
        overrides.setdefault("verification_url", "https://verify.example.test")
    return Settings(
        env=env,
        ledger_hash_key=SecretStr(TEST_LEDGER_HASH_KEY),
        data_keys=SecretStr(TEST_DATA_KEYS),
        blind_index_key=SecretStr(TEST_BLIND_INDEX_KEY),
        **overrides,
    )


def _leaks(logs: list[dict[str, Any]]) -> bool:
    rendered = json.dumps(logs, ensure_ascii=False, default=str)
    return PHONE in rendered or "123456" in rendered or "secret-token" in rendered


@respx.mock
async def test_gateway_receives_phone_and_text_with_the_bearer_token() -> None:
    route = respx.post(GATEWAY).mock(return_value=httpx.Response(202))

    with capture_logs() as logs:
        await HttpSms(GATEWAY, "secret-token").send(phone=PHONE, text=TEXT)

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer secret-token"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"phone": PHONE, "text": TEXT}
    assert not _leaks(logs)


@respx.mock
@pytest.mark.parametrize("status", [400, 401, 500, 503])
async def test_gateway_refusal_is_sms_unavailable(status: int) -> None:
    respx.post(GATEWAY).mock(return_value=httpx.Response(status, text=f"echo {PHONE}"))

    with capture_logs() as logs, pytest.raises(SmsUnavailable) as refused:
        await HttpSms(GATEWAY, "secret-token").send(phone=PHONE, text=TEXT)

    assert refused.value.status == 503
    assert refused.value.type_uri().endswith(":sms-unavailable")
    assert PHONE not in str(refused.value)
    assert [log["event"] for log in logs] == ["sms.gateway_refused"]
    assert not _leaks(logs)


@respx.mock
@pytest.mark.parametrize(
    "error",
    [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("timed out"), httpx.ConnectError("no")],
)
async def test_gateway_transport_failure_is_sms_unavailable(error: Exception) -> None:
    respx.post(GATEWAY).mock(side_effect=error)

    with capture_logs() as logs, pytest.raises(SmsUnavailable) as refused:
        await HttpSms(GATEWAY, "secret-token").send(phone=PHONE, text=TEXT)

    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__  # the request does not ride along in tracebacks
    assert [log["event"] for log in logs] == ["sms.gateway_unreachable"]
    assert not _leaks(logs)


def test_gateway_has_a_timeout_and_hides_its_token() -> None:
    sender = HttpSms(GATEWAY, "secret-token")
    assert sender._timeout == 5.0
    assert "secret-token" not in repr(sender)


async def test_console_logs_a_marked_line_with_masked_number_and_the_text() -> None:
    with capture_logs() as logs:
        await ConsoleSms().send(phone=PHONE, text=TEXT)

    [line] = logs
    assert line["event"] == "sms.console"
    assert line["log_level"] == "warning"
    # What the configured pipeline would print: the scrubber leaves these fields alone.
    scrubbed = scrub_personal_data(None, "warning", dict(line))
    assert scrubbed["banner"] == CONSOLE_BANNER == "*** DEVELOPMENT SMS (not sent) ***"
    assert scrubbed["to"] == "138****5678"
    assert scrubbed["message"] == TEXT
    assert PHONE not in json.dumps(scrubbed, ensure_ascii=False)


def test_factory_uses_the_console_only_in_development() -> None:
    assert isinstance(sms_sender(_settings("development")), ConsoleSms)


@pytest.mark.parametrize("env", ["test", "production"])
def test_factory_refuses_to_log_codes_outside_development(env: str) -> None:
    # Settings already refuse production without a gateway; the factory must not rely on it.
    configured = _settings(env, sms_gateway_url=GATEWAY, sms_gateway_token=SecretStr("t"))
    settings = configured.model_copy(update={"sms_gateway_url": None})

    with pytest.raises(SmsNotConfigured, match="WUJIANG_SMS_GATEWAY_URL"):
        sms_sender(settings)


@pytest.mark.parametrize("env", ["development", "production"])
def test_factory_uses_the_gateway_when_configured(env: str) -> None:
    settings = _settings(env, sms_gateway_url=GATEWAY, sms_gateway_token=SecretStr("secret-token"))
    sender = sms_sender(settings)
    assert isinstance(sender, HttpSms)
    assert sender._url == GATEWAY


def test_factory_refuses_a_gateway_without_a_token() -> None:
    with pytest.raises(SmsNotConfigured, match="WUJIANG_SMS_GATEWAY_TOKEN"):
        sms_sender(_settings("production", sms_gateway_url=GATEWAY))
