"""The push adapter: FCM through firebase-admin against a fake FCM (respx), the development
console, and the factory that refuses the console in production."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import firebase_admin
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr
from structlog.testing import capture_logs

from core import clock
from core.logging import scrub_personal_data
from core.settings import Settings
from notifications.fcm import MAX_BATCH, FcmPush
from notifications.fcm_credentials import HttpxServiceAccountCredentials
from notifications.fcm_messages import (
    PAYLOAD_BUDGET_BYTES,
    fit_payload,
    parse_retry_after,
    payload_size,
)
from notifications.push import (
    CONSOLE_BANNER,
    LoggingPush,
    PushMessage,
    PushNotConfigured,
    PushOutcome,
    PushResult,
    push_sender,
)
from tests.notifications import fcm_mock
from tests.notifications.fcm_mock import (
    BAD_REQUEST,
    CLIENT_EMAIL,
    FCM_SCOPE,
    PRIVATE_KEY_PEM,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_JSON,
    TOKEN_URI,
    FakeFcm,
    FcmReply,
    fcm_error,
    no_leaked_firebase_apps,
    settings_with_fcm,
)

fake_fcm = fcm_mock.fake_fcm
fcm_settings = fcm_mock.fcm_settings
fast_sdk_backoff = fcm_mock.fast_sdk_backoff

TOKEN = "dGVzdC1kZXZpY2UtdG9rZW4:APA91bHtest0123456789"
TITLE = "积分到账"
BODY = "您参加垃圾分类志愿服务，获得 10 积分。"


def push_message(
    token: str = TOKEN,
    *,
    title: str = TITLE,
    body: str = BODY,
    data: dict[str, str] | None = None,
    urgent: bool = False,
) -> PushMessage:
    return PushMessage(
        delivery_id=uuid.uuid4(),
        token=token,
        title=title,
        body=body,
        data={"topic": "points.awarded", "points": "10"} if data is None else data,
        urgent=urgent,
    )


def retry(error: str, retry_after: float | None = None) -> PushResult:
    return PushResult(PushOutcome.RETRY, error, retry_after)


@pytest.fixture(autouse=True)
def _no_leaked_apps() -> Iterator[None]:
    with no_leaked_firebase_apps():
        yield


@pytest.fixture
async def push(fake_fcm: FakeFcm) -> AsyncIterator[FcmPush]:
    sender = FcmPush(SERVICE_ACCOUNT, timeout=5.0)
    yield sender
    await sender.aclose()


# --- delivery -------------------------------------------------------------------------------------


async def test_fcm_receives_the_message_with_its_collapse_ids_and_priorities(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    routine = push_message("token-routine-0001")
    urgent = push_message("token-urgent-0002", urgent=True, data={"kind": "alert"})

    results = await push.send([routine, urgent])

    assert results == [PushResult(PushOutcome.SENT)] * 2
    first, second = sorted(fake_fcm.delivered, key=lambda m: m.token)
    assert (first.token, first.title, first.body) == ("token-routine-0001", TITLE, BODY)
    notification_id = str(routine.delivery_id)
    assert first.data == {
        "topic": "points.awarded",
        "points": "10",
        "notification_id": notification_id,
    }
    assert first.android_tag == first.android_collapse_key == notification_id
    assert first.android_priority == "normal"
    assert first.apns_headers == {"apns-collapse-id": notification_id, "apns-priority": "5"}
    assert second.data == {"kind": "alert", "notification_id": str(urgent.delivery_id)}
    assert second.android_tag == str(urgent.delivery_id)
    assert second.android_priority == "high"
    assert second.apns_headers["apns-priority"] == "10"
    # The bearer is the token the (mocked) token endpoint issued, fetched over httpx.
    assert fake_fcm.issued_tokens
    assert {m.authorization for m in fake_fcm.delivered} == {f"Bearer {fake_fcm.issued_tokens[0]}"}


async def test_one_access_token_serves_many_messages_and_sends(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    first = await push.send([push_message(f"token-{i:04}") for i in range(40)])
    second = await push.send([push_message(f"token-{i:04}") for i in range(40, 50)])

    assert [r.outcome for r in first + second] == [PushOutcome.SENT] * 50
    assert len(fake_fcm.delivered) == 50
    assert fake_fcm.token_fetches == 1
    [claims] = fake_fcm.token_claims
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["aud"] == TOKEN_URI
    assert claims["scope"] == FCM_SCOPE


async def test_the_same_delivery_sent_again_keeps_its_collapse_id(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    # A worker that died after sending but before recording sends the delivery again: the
    # device replaces the first notice with the second instead of showing two.
    message = push_message()
    await push.send([message])
    await push.send([message])

    first, again = fake_fcm.delivered
    assert first.android_tag == again.android_tag == str(message.delivery_id)
    assert first.apns_headers["apns-collapse-id"] == again.apns_headers["apns-collapse-id"]


async def test_an_empty_batch_sends_nothing(push: FcmPush, fake_fcm: FakeFcm) -> None:
    assert await push.send([]) == []
    assert fake_fcm.token_fetches == 0
    assert fake_fcm.received == []


# --- what FCM's answers mean ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("unregistered", None, PushResult(PushOutcome.INVALID_TOKEN, "UNREGISTERED")),
        ("invalid_argument", None, PushResult(PushOutcome.INVALID_TOKEN, "INVALID_ARGUMENT")),
        ("bad_message", None, retry("INVALID_MESSAGE")),
        ("quota", None, retry("QUOTA_EXCEEDED", 60.0)),
        ("unavailable", 502, retry("HTTP 502")),
        ("unavailable", 504, retry("HTTP 504")),
        ("sender_id_mismatch", None, retry("SENDER_ID_MISMATCH")),
        ("third_party_auth", None, retry("THIRD_PARTY_AUTH_ERROR")),
        ("timeout", None, retry("DEADLINE_EXCEEDED")),
        ("connect_error", None, retry("UNAVAILABLE")),
    ],
)
async def test_each_failure_is_classified_for_its_message_alone(
    push: FcmPush,
    fake_fcm: FakeFcm,
    kind: fcm_mock.Failure,
    status: int | None,
    expected: PushResult,
) -> None:
    fake_fcm.fail("token-failing", kind, status=status)

    results = await push.send(
        [push_message("token-before"), push_message("token-failing"), push_message("token-after")]
    )

    assert results == [PushResult(PushOutcome.SENT), expected, PushResult(PushOutcome.SENT)]
    assert {m.token for m in fake_fcm.delivered} == {"token-before", "token-after"}


@pytest.mark.parametrize(
    ("field", "outcome", "error"),
    [
        ("message.token", PushOutcome.INVALID_TOKEN, "INVALID_ARGUMENT"),
        ("message.android.ttl", PushOutcome.RETRY, "INVALID_MESSAGE"),
    ],
)
async def test_an_fcm_invalid_argument_naming_another_field_keeps_the_token(
    push: FcmPush, fake_fcm: FakeFcm, field: str, outcome: PushOutcome, error: str
) -> None:
    violation = {"@type": BAD_REQUEST, "fieldViolations": [{"field": field, "description": "x"}]}
    body = fcm_error(
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
        "INVALID_ARGUMENT",
        details=(violation,),
    )
    fake_fcm.fail(TOKEN, FcmReply(400, body))

    assert await push.send([push_message()]) == [PushResult(outcome, error)]


async def test_a_failure_scripted_for_some_sends_then_delivers(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    fake_fcm.fail(TOKEN, "quota", times=1)

    assert (await push.send([push_message()]))[0].outcome is PushOutcome.RETRY
    assert (await push.send([push_message()]))[0].outcome is PushOutcome.SENT
    assert len(fake_fcm.received) == 2
    assert len(fake_fcm.delivered_to(TOKEN)) == 1


async def test_retry_after_in_seconds(push: FcmPush, fake_fcm: FakeFcm) -> None:
    fake_fcm.fail(TOKEN, "quota", retry_after="30")

    assert await push.send([push_message()]) == [retry("QUOTA_EXCEEDED", 30.0)]


async def test_retry_after_as_an_http_date(push: FcmPush, fake_fcm: FakeFcm) -> None:
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    fake_fcm.fail(
        TOKEN, "unavailable", retry_after=format_datetime(now + timedelta(seconds=120), usegmt=True)
    )

    with clock.frozen(now):
        results = await push.send([push_message()])

    assert results == [retry("HTTP 502", 120.0)]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        (" 45 ", 45.0),
        ("Sun, 01 Mar 2026 08:01:00 GMT", 60.0),
        ("Sun, 01 Mar 2026 07:59:00 GMT", 0.0),  # already past
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    with clock.frozen(datetime(2026, 3, 1, 8, 0, tzinfo=UTC)):
        assert parse_retry_after(header) == seconds


async def test_server_errors_are_retried_by_the_sdk_before_being_reported(
    push: FcmPush, fake_fcm: FakeFcm, fast_sdk_backoff: list[float]
) -> None:
    fake_fcm.fail("token-down", "unavailable", status=503, retry_after="7")
    fake_fcm.fail("token-flaky", "unavailable", status=500, times=2)

    results = await push.send([push_message("token-down"), push_message("token-flaky")])

    assert results == [retry("UNAVAILABLE", 7.0), PushResult(PushOutcome.SENT)]
    assert len([m for m in fake_fcm.received if m.token == "token-down"]) == 5
    assert len([m for m in fake_fcm.received if m.token == "token-flaky"]) == 3
    # Four retries with backoff for the first, two for the second.
    assert sorted(fast_sdk_backoff) == sorted([0, 1.0, 2.0, 4.0, 0, 1.0])


# --- batches and authorisation --------------------------------------------------------------------


async def test_a_batch_over_500_goes_in_chunks_and_answers_in_order(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    messages = [push_message(f"token-{i:05}") for i in range(2 * MAX_BATCH + 201)]
    for position in (0, 600, 1200):
        fake_fcm.fail(messages[position].token, "unregistered")
    fake_fcm.latency = 0.001  # requests of a chunk overlap

    results = await push.send(messages)

    assert len(results) == len(messages)
    invalid = [i for i, r in enumerate(results) if r.outcome is PushOutcome.INVALID_TOKEN]
    assert invalid == [0, 600, 1200]
    assert len(fake_fcm.delivered) == len(messages) - 3
    assert 1 < fake_fcm.max_in_flight <= MAX_BATCH
    assert fake_fcm.token_fetches == 1


@pytest.mark.parametrize(
    ("endpoint", "error"), [("down", "AUTH_UNAVAILABLE"), ("refused", "AUTH_REFUSED")]
)
async def test_no_access_token_retries_every_message(
    push: FcmPush, fake_fcm: FakeFcm, endpoint: fcm_mock.TokenEndpoint, error: str
) -> None:
    fake_fcm.token_endpoint = endpoint
    messages = [push_message(f"token-{i:04}") for i in range(MAX_BATCH + 3)]

    with capture_logs() as logs:
        results = await push.send(messages)

    assert results == [retry(error)] * len(messages)
    assert fake_fcm.received == []
    assert fake_fcm.send_route.call_count == 0
    assert PRIVATE_KEY_PEM not in json.dumps(logs, default=str)

    fake_fcm.token_endpoint = "ok"  # back up: the next round goes out
    assert await push.send(messages[:2]) == [PushResult(PushOutcome.SENT)] * 2


async def test_a_revoked_access_token_is_refreshed_through_httpx(
    push: FcmPush, fake_fcm: FakeFcm, monkeypatch: pytest.MonkeyPatch
) -> None:
    await push.send([push_message()])
    fake_fcm.revoke_access_tokens()
    monkeypatch.setattr(HttpxServiceAccountCredentials, "min_forced_refresh_seconds", 0.0)

    # The SDK answers FCM's 401 by refreshing the credential itself (with a `requests`
    # transport it hands over, which the credential ignores): still the mocked endpoint.
    assert await push.send([push_message()]) == [PushResult(PushOutcome.SENT)]
    assert fake_fcm.token_fetches == 2
    assert fake_fcm.delivered[-1].authorization == f"Bearer {fake_fcm.issued_tokens[-1]}"


async def test_a_batch_the_sdk_cannot_finish_is_retried_whole(
    push: FcmPush, fake_fcm: FakeFcm, monkeypatch: pytest.MonkeyPatch
) -> None:
    await push.send([push_message()])
    # FCM refuses the token and the SDK's own refresh (inside its HTTP auth flow) fails: the
    # SDK gives up on the whole batch.
    fake_fcm.revoke_access_tokens()
    fake_fcm.token_endpoint = "down"
    monkeypatch.setattr(HttpxServiceAccountCredentials, "min_forced_refresh_seconds", 0.0)

    with capture_logs() as logs:
        results = await push.send([push_message(f"token-{i}") for i in range(3)])

    assert results == [retry("UNKNOWN")] * 3
    assert [line["event"] for line in logs if line["log_level"] == "error"] == ["push.batch_failed"]


async def test_third_party_auth_errors_do_not_fetch_a_token_each(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    # A bad APNs key makes FCM answer 401 for every iOS message; the SDK takes any 401 as a
    # stale token and forces refreshes, which a token this young does not honour.
    tokens = [f"ios-token-{i:03}" for i in range(30)]
    for token in tokens:
        fake_fcm.fail(token, "third_party_auth")

    results = await push.send([push_message(token) for token in tokens])

    assert results == [retry("THIRD_PARTY_AUTH_ERROR")] * 30
    assert fake_fcm.token_fetches == 1


async def test_a_malformed_message_fails_alone(push: FcmPush, fake_fcm: FakeFcm) -> None:
    # The SDK validates a whole batch before sending any of it; one bad message must not hold
    # back the others.
    bad_data: Any = {"points": 10}
    messages = [
        push_message("token-good-1"),
        push_message("token-bad", data=bad_data),
        push_message(""),
        push_message("token-good-2"),
    ]

    results = await push.send(messages)

    assert results == [
        PushResult(PushOutcome.SENT),
        retry("INVALID_MESSAGE"),
        PushResult(PushOutcome.INVALID_TOKEN, "MISSING_TOKEN"),
        PushResult(PushOutcome.SENT),
    ]
    assert {m.token for m in fake_fcm.delivered} == {"token-good-1", "token-good-2"}


# --- payload size ---------------------------------------------------------------------------------


async def test_an_oversized_chinese_body_is_shortened_under_the_limit(
    push: FcmPush, fake_fcm: FakeFcm
) -> None:
    body = "吴江区绿色生活积分活动通知：" * 300  # ~12,600 bytes of UTF-8
    data = {"topic": "notice", "url": "wujiang://notices/2026-0301", "ref": "x" * 200}
    message = push_message(body=body, data=data)

    assert await push.send([message]) == [PushResult(PushOutcome.SENT)]

    [received] = fake_fcm.delivered
    assert received.title == TITLE
    assert received.data == {**data, "notification_id": str(message.delivery_id)}
    assert received.body is not None
    assert received.body.endswith("…")
    assert body.startswith(received.body.removesuffix("…"))
    size = payload_size(received.title, received.body, received.data)
    assert PAYLOAD_BUDGET_BYTES - 10 <= size <= PAYLOAD_BUDGET_BYTES  # as long as fits


def test_payloads_within_the_budget_are_untouched() -> None:
    data = {"notification_id": str(uuid.uuid4())}
    assert fit_payload(TITLE, BODY, data) == (TITLE, BODY)
    body = "界" * 1000
    title, shortened = fit_payload(TITLE, body, data, budget=payload_size(TITLE, body, data))
    assert (title, shortened) == (TITLE, body)


def test_the_title_is_shortened_only_when_the_body_is_not_enough() -> None:
    data = {"blob": "d" * 3000}
    title, body = fit_payload("标题" * 400, "正文" * 400, data)

    assert body == ""
    assert title.endswith("…")
    assert payload_size(title, body, data) <= PAYLOAD_BUDGET_BYTES
    assert data == {"blob": "d" * 3000}


def test_escaped_characters_count_as_sent() -> None:
    body = '"\n' * 3000  # each character takes two bytes once escaped in JSON
    title, shortened = fit_payload(TITLE, body, {})
    assert payload_size(title, shortened, {}) <= PAYLOAD_BUDGET_BYTES
    assert len(shortened) > 1000


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    title=st.text(max_size=80),
    body=st.text(max_size=400),
    data=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=3),
    budget=st.integers(min_value=0, max_value=600),
)
def test_fitted_payloads_fit_and_keep_prefixes(
    title: str, body: str, data: dict[str, str], budget: int
) -> None:
    fitted_title, fitted_body = fit_payload(title, body, data, budget=budget)

    for original, fitted in ((title, fitted_title), (body, fitted_body)):
        assert fitted == original or original.startswith(fitted.removesuffix("…"))
    if payload_size("", "", data) <= budget:  # else nothing but the data could fit
        assert payload_size(fitted_title, fitted_body, data) <= budget
    if fitted_title != title:
        assert fitted_body == ""  # the title is shortened only once the body is gone


# --- logs and secrets -----------------------------------------------------------------------------


async def test_fcm_sends_log_counts_never_tokens(push: FcmPush, fake_fcm: FakeFcm) -> None:
    fake_fcm.fail("token-gone-secret", "unregistered")

    with capture_logs() as logs:
        await push.send([push_message(), push_message("token-gone-secret")])

    summary = next(line for line in logs if line["event"] == "push.sent")
    assert (summary["sent"], summary["invalid_token"], summary["retry"]) == (1, 1, 0)
    assert summary["errors"] == {"UNREGISTERED": 1}
    rendered = json.dumps(logs, ensure_ascii=False, default=str)
    assert TOKEN not in rendered
    assert "token-gone-secret" not in rendered
    assert fake_fcm.issued_tokens[0] not in rendered


async def test_the_sender_does_not_show_its_key(push: FcmPush) -> None:
    key_line = PRIVATE_KEY_PEM.splitlines()[1]
    assert "wujiang-test" in repr(push)
    assert key_line not in repr(push)
    assert key_line not in repr(push._credential)


async def test_console_logs_a_marked_line_without_the_full_token() -> None:
    message = push_message()

    with capture_logs() as logs:
        results = await LoggingPush().send([message])

    assert results == [PushResult(PushOutcome.SENT)]
    [line] = logs
    assert line["event"] == "push.console"
    assert line["log_level"] == "warning"
    scrubbed = scrub_personal_data(None, "warning", dict(line))
    assert scrubbed["banner"] == CONSOLE_BANNER == "*** DEVELOPMENT PUSH (not sent) ***"
    assert scrubbed["to"] == TOKEN[:6] + "…"
    assert (scrubbed["title"], scrubbed["body"]) == (TITLE, BODY)
    assert scrubbed["notification_id"] == str(message.delivery_id)
    assert TOKEN not in json.dumps(scrubbed, ensure_ascii=False)


# --- lifecycle ------------------------------------------------------------------------------------


async def test_closing_deletes_the_firebase_app(fake_fcm: FakeFcm) -> None:
    sender = FcmPush(SERVICE_ACCOUNT, timeout=5.0)
    name = sender._app.name
    await sender.send([push_message()])  # the SDK's HTTP client now exists

    await sender.aclose()
    await sender.aclose()  # twice is harmless

    with pytest.raises(ValueError, match="does not exist"):
        firebase_admin.get_app(name)
    with pytest.raises(RuntimeError, match="closed"):
        await sender.send([push_message()])


async def test_senders_are_independent_apps(fake_fcm: FakeFcm) -> None:
    async with (
        FcmPush(SERVICE_ACCOUNT, timeout=5.0) as one,
        FcmPush(SERVICE_ACCOUNT, timeout=5.0) as other,
    ):
        assert one._app.name != other._app.name
        await one.send([push_message()])
        await other.send([push_message()])
    assert len(fake_fcm.delivered) == 2


def test_the_push_interface_does_not_import_firebase_admin() -> None:
    # Every process imports the interface; only one that sends needs firebase-admin.
    code = "import sys, notifications.push; print('firebase_admin' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    ran = subprocess.run(  # noqa: S603 — our own interpreter, a constant script
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert ran.stdout.strip() == "False"


# --- choosing a sender ----------------------------------------------------------------------------


async def test_configured_credentials_give_fcm_with_the_settings_timeout(
    fcm_settings: Settings, fake_fcm: FakeFcm
) -> None:
    sender = push_sender(fcm_settings.model_copy(update={"fcm_timeout_seconds": 7.5}))
    try:
        assert isinstance(sender, FcmPush)
        assert sender.project_id == "wujiang-test"
        assert firebase_admin.get_app(sender._app.name).options.get("httpTimeout") == 7.5
        assert await sender.send([push_message()]) == [PushResult(PushOutcome.SENT)]
    finally:
        await sender.aclose()


async def test_credentials_from_a_file_and_a_project_override(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "service-account.json"
    path.write_text(SERVICE_ACCOUNT_JSON, encoding="utf-8")
    configured = settings.model_copy(
        update={"fcm_credentials_file": str(path), "fcm_project_id": "wujiang-prod"}
    )

    sender = push_sender(configured)
    try:
        assert isinstance(sender, FcmPush)
        assert sender.project_id == "wujiang-prod"
    finally:
        await sender.aclose()


@pytest.mark.parametrize("env", ["development", "test"])
def test_no_credentials_outside_production_logs_pushes(settings: Settings, env: str) -> None:
    assert isinstance(push_sender(settings.model_copy(update={"env": env})), LoggingPush)


async def test_production_with_credentials_sends_through_fcm(settings: Settings) -> None:
    sender = push_sender(settings_with_fcm(settings, env="production"))
    try:
        assert isinstance(sender, FcmPush)
    finally:
        await sender.aclose()


def test_production_without_credentials_is_refused(settings: Settings) -> None:
    production = settings.model_copy(update={"env": "production"})

    with pytest.raises(PushNotConfigured, match="WUJIANG_FCM_CREDENTIALS_JSON"):
        push_sender(production)


def _without(key: str) -> str:
    return json.dumps({k: v for k, v in SERVICE_ACCOUNT.items() if k != key})


@pytest.mark.parametrize(
    ("update", "match"),
    [
        ({"fcm_credentials_json": SecretStr("{not json " + PRIVATE_KEY_PEM)}, "not valid JSON"),
        ({"fcm_credentials_json": SecretStr("[]")}, "JSON object"),
        ({"fcm_credentials_json": SecretStr(_without("type"))}, "service_account"),
        ({"fcm_credentials_json": SecretStr(_without("client_email"))}, "client_email"),
        ({"fcm_credentials_json": SecretStr(_without("project_id"))}, "FCM_PROJECT_ID"),
        (
            {"fcm_credentials_json": None, "fcm_credentials_file": "/nonexistent/sa.json"},
            "cannot be read",
        ),
        ({"fcm_credentials_file": "/nonexistent/sa.json"}, "not both"),
    ],
)
@pytest.mark.parametrize("env", ["development", "production"])
def test_unusable_credentials_are_refused_without_quoting_them(
    settings: Settings, update: dict[str, Any], match: str, env: str
) -> None:
    configured = settings_with_fcm(settings, env=env, **update)

    with pytest.raises(PushNotConfigured, match=match) as refused:
        push_sender(configured)

    assert PRIVATE_KEY_PEM.splitlines()[1] not in str(refused.value)
