"""Signed requests from the 12345 call centre: a good request passes; a missing or malformed
header, an unknown key, a wrong signature, a tampered body, path, query or method, a timestamp
more than 5 minutes off and a replayed nonce are refused; rotated keys both verify; a forged
request does not use up the nonce it carries; without keys the channel answers 503."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from channels.hotline import signing
from channels.hotline.signing import Replayed, RequestExpired, SignatureInvalid
from core import clock
from core.redis import make_redis
from tests.helpers import problem_of

# 2026-11-25 10:00 in Wujiang (UTC+8).
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
NEW_KID, NEW_SECRET = "cc2026b", "n" * 20 + "-new-call-centre-secret"
OLD_KID, OLD_SECRET = "cc2026a", "o" * 20 + "-old-call-centre-secret"
KEYS = f"{NEW_KID}:{NEW_SECRET},{OLD_KID}:{OLD_SECRET}"
SECRETS = {NEW_KID: NEW_SECRET.encode(), OLD_KID: OLD_SECRET.encode()}
CALLS = "/v1/hotline/calls"
UNKNOWN_CALLER = {"caller_number": "13900009999"}


def signed_headers(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    kid: str = NEW_KID,
    secret: bytes | None = None,
    nonce: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The four headers the call centre sends, signed as the module docstring says."""
    ts = str(timestamp if timestamp is not None else int(clock.now().timestamp()))
    nonce = nonce or secrets.token_urlsafe(18)
    key = secret if secret is not None else SECRETS.get(kid, b"x" * 32)
    digest = hashlib.sha256(body).hexdigest()
    message = f"{ts}\n{nonce}\n{method}\n{path}\n{digest}".encode()
    return {
        "X-Hotline-Key": kid,
        "X-Hotline-Timestamp": ts,
        "X-Hotline-Nonce": nonce,
        "X-Hotline-Signature": hmac.new(key, message, hashlib.sha256).hexdigest(),
    }


async def signed(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    payload: Any = None,
    *,
    headers: dict[str, str] | None = None,
    **signing_options: Any,
) -> httpx.Response:
    """Send a request signed with the current key (or as `signing_options` say); a POST carries
    a fresh Idempotency-Key unless `headers` give one, as the call centre's client sends."""
    body = b"" if payload is None else json.dumps(payload).encode()
    sent = signed_headers(method, path, body, **signing_options)
    if body:
        sent["Content-Type"] = "application/json"
    if method == "POST":
        sent["Idempotency-Key"] = str(uuid.uuid4())
    sent.update(headers or {})
    return await client.request(method, path, content=body, headers=sent)


def refused(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problem = problem_of(response)
    assert problem["type"].rsplit(":", 1)[-1] == kind, problem
    return problem


@pytest.fixture
def hotline_keys(settings, monkeypatch, redis):  # `redis`: nonces forgotten after each test
    monkeypatch.setattr(settings, "hotline_keys", SecretStr(KEYS))
    with clock.frozen(MORNING):
        yield


pytestmark = pytest.mark.usefixtures("hotline_keys")


# --- over HTTP ---------------------------------------------------------------------------------


async def test_a_signed_request_passes(client) -> None:
    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER)

    assert response.status_code == 200, response.text
    assert response.json() == {"found": False}


@pytest.mark.parametrize(
    "header",
    ["X-Hotline-Key", "X-Hotline-Timestamp", "X-Hotline-Nonce", "X-Hotline-Signature"],
)
async def test_a_missing_header_is_refused(client, header: str) -> None:
    body = json.dumps(UNKNOWN_CALLER).encode()
    headers = signed_headers("POST", CALLS, body)
    del headers[header]

    response = await client.post(CALLS, content=body, headers=headers)

    problem = refused(response, 401, "hotline-signature-invalid")
    assert response.headers["www-authenticate"].startswith("HMAC")
    assert "title" in problem


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Hotline-Nonce", "short"),
        ("X-Hotline-Nonce", "n" * 65),
        ("X-Hotline-Nonce", "has spaces in it, sixteen+"),
        ("X-Hotline-Timestamp", "1795600000.5"),
        ("X-Hotline-Timestamp", "-1795600000"),
        ("X-Hotline-Timestamp", "soon"),
        ("X-Hotline-Signature", "zz" * 32),
        ("X-Hotline-Signature", "ab" * 31),
        ("X-Hotline-Signature", "é" * 64),
        ("X-Hotline-Key", "no such kid"),
        ("X-Hotline-Key", ""),
    ],
)
async def test_a_malformed_header_is_refused_as_an_invalid_signature(
    client, header: str, value: str
) -> None:
    body = json.dumps(UNKNOWN_CALLER).encode()
    headers = signed_headers("POST", CALLS, body)
    headers[header] = value

    response = await client.post(
        CALLS, content=body, headers={k: v.encode("latin-1") for k, v in headers.items()}
    )

    refused(response, 401, "hotline-signature-invalid")


async def test_an_unknown_key_is_refused(client) -> None:
    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER, kid="cc2025z")

    refused(response, 401, "hotline-signature-invalid")


async def test_a_signature_under_the_wrong_secret_is_refused(client) -> None:
    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER, secret=OLD_SECRET.encode())

    refused(response, 401, "hotline-signature-invalid")


async def test_a_tampered_body_is_refused(client) -> None:
    headers = signed_headers("POST", CALLS, json.dumps(UNKNOWN_CALLER).encode())
    tampered = json.dumps({"caller_number": "13812345678"}).encode()

    response = await client.post(
        CALLS, content=tampered, headers={**headers, "Content-Type": "application/json"}
    )

    refused(response, 401, "hotline-signature-invalid")


async def test_a_tampered_path_query_or_method_is_refused(client) -> None:
    get_headers = signed_headers("GET", "/v1/hotline/tickets/WJ20261125-000001")
    other_path = await client.get("/v1/hotline/tickets/WJ20261125-000002", headers=get_headers)
    with_query = await client.get(
        "/v1/hotline/tickets/WJ20261125-000001?x=1",
        headers=signed_headers("GET", "/v1/hotline/tickets/WJ20261125-000001"),
    )
    other_method = await client.post(
        "/v1/hotline/tickets/WJ20261125-000001/status",
        json={"status": "closed", "agent": "A1"},
        headers=signed_headers("GET", "/v1/hotline/tickets/WJ20261125-000001/status"),
    )

    for response in (other_path, with_query, other_method):
        refused(response, 401, "hotline-signature-invalid")


async def test_a_query_string_is_signed_with_the_path(client) -> None:
    path = "/v1/hotline/tickets/WJ20261125-000001?lang=zh"

    response = await client.get(path, headers=signed_headers("GET", path))

    refused(response, 404, "ticket-not-found")  # through the signature to the handler


@pytest.mark.parametrize("offset", [timedelta(minutes=6), timedelta(minutes=-6)])
async def test_a_timestamp_more_than_five_minutes_off_is_refused(client, offset) -> None:
    stamp = int((MORNING + offset).timestamp())

    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER, timestamp=stamp)

    problem = refused(response, 401, "hotline-request-expired")
    assert problem["server_time"] == int(MORNING.timestamp())


@pytest.mark.parametrize("offset", [timedelta(minutes=4, seconds=59), timedelta(minutes=-5)])
async def test_a_timestamp_within_five_minutes_passes(client, offset) -> None:
    stamp = int((MORNING + offset).timestamp())

    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER, timestamp=stamp)

    assert response.status_code == 200, response.text


async def test_a_replayed_nonce_is_refused(client) -> None:
    body = json.dumps(UNKNOWN_CALLER).encode()
    headers = {**signed_headers("POST", CALLS, body), "Content-Type": "application/json"}

    first = await client.post(CALLS, content=body, headers=headers)
    clock.advance(timedelta(minutes=2))
    again = await client.post(CALLS, content=body, headers=headers)

    assert first.status_code == 200, first.text
    refused(again, 401, "hotline-replay")


async def test_a_nonce_is_remembered_per_key(client) -> None:
    nonce = "shared-nonce-0123456789"

    new = await signed(client, "POST", CALLS, UNKNOWN_CALLER, nonce=nonce, kid=NEW_KID)
    old = await signed(client, "POST", CALLS, UNKNOWN_CALLER, nonce=nonce, kid=OLD_KID)

    assert (new.status_code, old.status_code) == (200, 200)


async def test_rotated_keys_both_verify(client) -> None:
    current = await signed(client, "POST", CALLS, UNKNOWN_CALLER, kid=NEW_KID)
    previous = await signed(client, "POST", CALLS, UNKNOWN_CALLER, kid=OLD_KID)

    assert (current.status_code, previous.status_code) == (200, 200)


async def test_a_retired_key_no_longer_verifies(client, settings, monkeypatch) -> None:
    monkeypatch.setattr(settings, "hotline_keys", SecretStr(f"{NEW_KID}:{NEW_SECRET}"))

    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER, kid=OLD_KID)

    refused(response, 401, "hotline-signature-invalid")


async def test_a_forged_request_does_not_burn_the_nonce(client) -> None:
    nonce = "call-centre-nonce-000001"

    forged = await signed(client, "POST", CALLS, UNKNOWN_CALLER, nonce=nonce, secret=b"guess" * 8)
    genuine = await signed(client, "POST", CALLS, UNKNOWN_CALLER, nonce=nonce)

    refused(forged, 401, "hotline-signature-invalid")
    assert genuine.status_code == 200, genuine.text


async def test_an_expired_request_does_not_burn_the_nonce(client) -> None:
    nonce = "call-centre-nonce-000002"
    late = int((MORNING - timedelta(minutes=7)).timestamp())

    expired = await signed(client, "POST", CALLS, UNKNOWN_CALLER, nonce=nonce, timestamp=late)
    fresh = await signed(client, "POST", CALLS, UNKNOWN_CALLER, nonce=nonce)

    refused(expired, 401, "hotline-request-expired")
    assert fresh.status_code == 200, fresh.text


async def test_the_signature_is_checked_before_the_body(client) -> None:
    unsigned = await client.post(CALLS, json={"caller_number": 42, "surprise": True})
    signed_bad_body = await signed(client, "POST", CALLS, {"caller_number": 42})

    refused(unsigned, 401, "hotline-signature-invalid")
    refused(signed_bad_body, 422, "validation-error")


async def test_an_upper_case_signature_is_accepted(client) -> None:
    body = json.dumps(UNKNOWN_CALLER).encode()
    headers = signed_headers("POST", CALLS, body)
    headers["X-Hotline-Signature"] = headers["X-Hotline-Signature"].upper()

    response = await client.post(
        CALLS, content=body, headers={**headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("keys", [None, "", "cc1:too-short", "no colon here"])
async def test_without_usable_keys_the_channel_is_unavailable(
    client, settings, monkeypatch, keys
) -> None:
    monkeypatch.setattr(settings, "hotline_keys", None if keys is None else SecretStr(keys))

    response = await signed(client, "POST", CALLS, UNKNOWN_CALLER)

    problem = refused(response, 503, "hotline-not-configured")
    assert "too-short" not in json.dumps(problem)


# --- the verifier itself -----------------------------------------------------------------------


def test_the_string_to_sign_is_five_lines() -> None:
    message = signing.string_to_sign(
        timestamp="1795600000", nonce="q8Xk2mP0aZ7rT1vY", method="post", path=CALLS, body=b"{}"
    )

    assert message == (
        b"1795600000\nq8Xk2mP0aZ7rT1vY\nPOST\n/v1/hotline/calls\n"
        b"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    empty = signing.string_to_sign(timestamp="1", nonce="n" * 16, method="GET", path="/", body=b"")
    assert empty.endswith(b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert signing.sign(b"k" * 32, timestamp="1", nonce="n" * 16, method="GET", path="/", body=b"")


def test_keys_are_parsed_current_first_and_checked() -> None:
    keys = signing.parse_keys(KEYS)
    assert list(keys) == [NEW_KID, OLD_KID]
    assert keys[OLD_KID] == OLD_SECRET.encode()
    for spec, complaint in [
        ("cc1:" + "s" * 31, "under 32 characters"),
        (f"cc1:{'s' * 32},cc1:{'t' * 32}", "more than once"),
        ("c c:" + "s" * 32, "entry 1 is not kid:secret"),
        ("s" * 40, "entry 1 is not kid:secret"),
    ]:
        with pytest.raises(ValueError, match=complaint) as caught:
            signing.parse_keys(spec)
        assert "s" * 31 not in str(caught.value)


async def test_verify_returns_the_key_and_checks_in_order(redis) -> None:
    body = b'{"caller_number": "13900009999"}'
    headers = signed_headers("POST", CALLS, body, kid=OLD_KID, nonce="ordered-nonce-00001")

    call = await signing.verify(
        redis, SECRETS, headers=headers, method="POST", path=CALLS, body=body
    )

    assert (call.kid, call.nonce) == (OLD_KID, "ordered-nonce-00001")
    with pytest.raises(Replayed):
        await signing.verify(redis, SECRETS, headers=headers, method="POST", path=CALLS, body=body)
    late = signed_headers("POST", CALLS, body, timestamp=int(MORNING.timestamp()) - 301)
    with pytest.raises(RequestExpired):
        await signing.verify(redis, SECRETS, headers=late, method="POST", path=CALLS, body=body)
    assert await redis.get(f"hotline:nonce:{NEW_KID}:{late['X-Hotline-Nonce']}") is None


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=300),
    path=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=60),
    flip=st.integers(min_value=0),
)
async def test_any_signed_request_verifies_and_any_altered_byte_does_not(
    body: bytes, path: str, flip: int
) -> None:
    redis = make_redis("memory://")
    with clock.frozen(MORNING):
        headers = signed_headers("POST", path, body)
        await signing.verify(redis, SECRETS, headers=headers, method="POST", path=path, body=body)
        if body:
            position = flip % len(body)
            altered = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
            fresh = signed_headers("POST", path, body)
            with pytest.raises(SignatureInvalid):
                await signing.verify(
                    redis, SECRETS, headers=fresh, method="POST", path=path, body=altered
                )
            # The forged attempt left the nonce unused: the genuine request still passes.
            await signing.verify(redis, SECRETS, headers=fresh, method="POST", path=path, body=body)
    await redis.aclose()
