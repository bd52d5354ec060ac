"""A fake Firebase Cloud Messaging, over respx: the OAuth token endpoint and FCM's HTTP v1 send
endpoint, answering as the real ones do (bodies copied from FCM's documented error shapes).

Use the `fake_fcm` fixture (it also fails the test if a Firebase app was left undeleted) with
settings from `fcm_settings` (or `settings_with_fcm(settings)`); then script failures per token:

    fake_fcm.fail("token-1", "unregistered")
    fake_fcm.fail("token-2", "quota", retry_after="30", times=1)  # then delivered
    results = await sender.send(messages)
    assert fake_fcm.delivered_to("token-2") == []

Failure kinds: unregistered, invalid_argument (a bad token: FcmError detail), bad_message
(INVALID_ARGUMENT without it), quota (429 + Retry-After), unavailable (502 by default; 503 and
500 are retried four times by firebase-admin with backoff, see `fast_sdk_backoff`),
sender_id_mismatch, third_party_auth, timeout (read timeout) and connect_error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

import firebase_admin
import firebase_admin._retry
import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from core.settings import Settings, get_settings

PROJECT_ID = "wujiang-test"
CLIENT_EMAIL = f"push-sender@{PROJECT_ID}.iam.gserviceaccount.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"
FCM_SEND_URL = f"https://fcm.googleapis.com/v1/projects/{PROJECT_ID}/messages:send"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
APP_PREFIX = "wujiang-push-"

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_KEY_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
SERVICE_ACCOUNT: dict[str, str] = {
    "type": "service_account",
    "project_id": PROJECT_ID,
    "private_key_id": uuid.uuid4().hex,
    "private_key": PRIVATE_KEY_PEM,
    "client_email": CLIENT_EMAIL,
    "client_id": "100000000000000000001",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": TOKEN_URI,
}
SERVICE_ACCOUNT_JSON = json.dumps(SERVICE_ACCOUNT)

Failure = Literal[
    "unregistered",
    "invalid_argument",
    "bad_message",
    "quota",
    "unavailable",
    "sender_id_mismatch",
    "third_party_auth",
    "timeout",
    "connect_error",
]


def fcm_error(
    code: int,
    status: str,
    message: str,
    error_code: str | None = None,
    *,
    details: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """A Google API error body; `error_code` adds FCM's own FcmError detail."""
    fcm = ({"@type": FCM_ERROR, "errorCode": error_code},) if error_code else ()
    error = {"code": code, "message": message, "status": status, "details": [*fcm, *details]}
    return {"error": error}


@dataclass(frozen=True)
class FcmReply:
    """What the fake answers: a status with a JSON (or text) body, or a transport error."""

    status: int = 200
    body: dict[str, Any] | str = ""
    headers: dict[str, str] = field(default_factory=dict)
    raises: type[httpx.TransportError] | None = None

    def response(self, request: httpx.Request) -> httpx.Response:
        if self.raises is not None:
            raise self.raises("simulated", request=request)
        if isinstance(self.body, str):
            return httpx.Response(self.status, text=self.body, headers=self.headers)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


def reply_for(
    kind: Failure, *, retry_after: str | None = None, status: int | None = None
) -> FcmReply:
    """FCM's answer for a kind of failure, as the real service words it."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    if kind == "unregistered":
        body = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        return FcmReply(404, body, headers)
    if kind == "invalid_argument":
        message = "The registration token is not a valid FCM registration token"
        return FcmReply(400, fcm_error(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT"))
    if kind == "bad_message":
        message = "Invalid value at 'message.data[0].value' (TYPE_STRING), 1"
        violation = {"field": "message.data[0].value", "description": message}
        detail = {"@type": BAD_REQUEST, "fieldViolations": [violation]}
        body = fcm_error(400, "INVALID_ARGUMENT", message, details=(detail,))
        return FcmReply(400, body)
    if kind == "quota":
        message = "Quota exceeded for quota metric 'Send requests' of service fcm.googleapis.com"
        body = fcm_error(429, "RESOURCE_EXHAUSTED", message, "QUOTA_EXCEEDED")
        return FcmReply(429, body, {"Retry-After": "60"} | headers)
    if kind == "unavailable":
        return _unavailable(status or 502, headers)
    if kind == "sender_id_mismatch":
        body = fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
        return FcmReply(403, body)
    if kind == "third_party_auth":
        message = "Auth error from APNS or Web Push Service"
        body = fcm_error(401, "UNAUTHENTICATED", message, "THIRD_PARTY_AUTH_ERROR")
        return FcmReply(401, body)
    if kind == "timeout":
        return FcmReply(raises=httpx.ReadTimeout)
    return FcmReply(raises=httpx.ConnectError)


def _unavailable(status: int, headers: dict[str, str]) -> FcmReply:
    if status == 503:
        message = "The service is currently unavailable."
        return FcmReply(503, fcm_error(503, "UNAVAILABLE", message, "UNAVAILABLE"), headers)
    if status == 500:
        body = fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
        return FcmReply(500, body, headers)
    # What Google's front end answers for a gateway error: HTML, not a Google API error.
    html = f"<html><title>Error {status} (Server Error)</title></html>"
    return FcmReply(status, html, {"Content-Type": "text/html"} | headers)


@dataclass(frozen=True)
class ReceivedMessage:
    """A message as FCM received it (the `message` object of the send request)."""

    token: str
    title: str | None
    body: str | None
    data: dict[str, str]
    android_priority: str | None
    android_collapse_key: str | None
    android_tag: str | None
    apns_headers: dict[str, str]
    authorization: str
    raw: dict[str, Any]

    @classmethod
    def of(cls, message: dict[str, Any], authorization: str) -> ReceivedMessage:
        notification = message.get("notification", {})
        android = message.get("android", {})
        return cls(
            token=message.get("token") or message.get("fid") or "",
            title=notification.get("title"),
            body=notification.get("body"),
            data=message.get("data", {}),
            android_priority=android.get("priority"),
            android_collapse_key=android.get("collapse_key"),
            android_tag=android.get("notification", {}).get("tag"),
            apns_headers=message.get("apns", {}).get("headers", {}),
            authorization=authorization,
            raw=message,
        )


TokenEndpoint = Literal["ok", "down", "refused", "unavailable"]


class FakeFcm:
    """The token endpoint and FCM's send endpoint, on a respx router. Records what it receives;
    answers as scripted per registration token (see `fail`), else delivers."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router  # for other outbound HTTP of the same test (the SMS gateway)
        self.received: list[ReceivedMessage] = []  # every authorised send request
        self.delivered: list[ReceivedMessage] = []  # those answered 200
        self.token_fetches = 0
        self.token_claims: list[dict[str, Any]] = []  # the verified assertions
        self.issued_tokens: list[str] = []
        # ok | down (connection refused) | refused (400 invalid_grant) | unavailable (503,
        # which google-auth retries twice with 1 s and 2 s sleeps)
        self.token_endpoint: TokenEndpoint = "ok"
        self.token_lifetime_seconds = 3600
        self.latency = 0.0  # seconds each send request takes
        self.in_flight = 0
        self.max_in_flight = 0
        self._live_tokens: set[str] = set()
        self._scripts: dict[str, list[tuple[FcmReply, int | None]]] = {}
        self.token_route = router.post(TOKEN_URI).mock(side_effect=self._token)
        self.send_route = router.post(FCM_SEND_URL).mock(side_effect=self._send)

    def fail(
        self,
        token: str,
        kind: Failure | FcmReply,
        *,
        times: int | None = None,
        retry_after: str | None = None,
        status: int | None = None,
    ) -> None:
        """Answer sends to `token` with this failure: always, or the next `times` sends (after
        which it is delivered). Scripts for one token queue up in order."""
        reply = (
            kind
            if isinstance(kind, FcmReply)
            else reply_for(kind, retry_after=retry_after, status=status)
        )
        self._scripts.setdefault(token, []).append((reply, times))

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far is refused from now on (401 UNAUTHENTICATED)."""
        self._live_tokens.clear()

    def delivered_to(self, token: str) -> list[ReceivedMessage]:
        return [message for message in self.delivered if message.token == token]

    # --- the endpoints ---------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        if self.token_endpoint == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.token_endpoint == "unavailable":
            return httpx.Response(503, json={"error": "temporarily_unavailable"})
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        claims = self._verified(form)
        if self.token_endpoint == "refused" or claims is None:
            refusal = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            return httpx.Response(400, json=refusal)
        self.token_fetches += 1
        self.token_claims.append(claims)
        access_token = f"ya29.fake-{self.token_fetches}-{uuid.uuid4().hex}"
        self.issued_tokens.append(access_token)
        self._live_tokens.add(access_token)
        answer = {
            "access_token": access_token,
            "expires_in": self.token_lifetime_seconds,
            "token_type": "Bearer",
        }
        return httpx.Response(200, json=answer)

    @staticmethod
    def _verified(form: dict[str, str]) -> dict[str, Any] | None:
        """The assertion's claims if it is a JWT grant signed by the test service account."""
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                form.get("assertion", ""),
                _KEY.public_key(),
                algorithms=["RS256"],
                audience=TOKEN_URI,
            )
        except jwt.PyJWTError:
            return None
        if claims.get("iss") != CLIENT_EMAIL or FCM_SCOPE not in claims.get("scope", "").split():
            return None
        return claims

    async def _send(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return self._answer(request)
        finally:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        authorization = request.headers.get("Authorization", "")
        if authorization.removeprefix("Bearer ") not in self._live_tokens:
            message = "Request had invalid authentication credentials."
            return httpx.Response(401, json=fcm_error(401, "UNAUTHENTICATED", message))
        received = ReceivedMessage.of(json.loads(request.content)["message"], authorization)
        reply = self._scripted(received.token)
        if reply is None or reply.raises is not httpx.ConnectError:
            self.received.append(received)  # a refused connection never reached FCM
        if reply is not None:
            return reply.response(request)
        self.delivered.append(received)
        name = f"projects/{PROJECT_ID}/messages/{len(self.delivered)}"
        return httpx.Response(200, json={"name": name})

    def _scripted(self, token: str) -> FcmReply | None:
        scripts = self._scripts.get(token)
        if not scripts:
            return None
        reply, times = scripts[0]
        if times is not None:
            if times <= 1:
                scripts.pop(0)
            else:
                scripts[0] = (reply, times - 1)
        return reply


# --- fixtures and helpers -------------------------------------------------------------------


def settings_with_fcm(settings: Settings, **overrides: Any) -> Settings:
    """A copy of `settings` with the test service account as WUJIANG_FCM_CREDENTIALS_JSON."""
    update: dict[str, Any] = {
        "fcm_credentials_json": SecretStr(SERVICE_ACCOUNT_JSON),
        "fcm_credentials_file": None,
        "fcm_project_id": None,
    }
    return settings.model_copy(update=update | overrides)


@pytest.fixture
def fcm_settings(settings: Settings) -> Settings:
    """Test settings with FCM configured, also installed as `get_settings()` for the test."""
    configured = settings_with_fcm(settings)
    get_settings.install(configured)
    return configured


@contextmanager
def no_leaked_firebase_apps() -> Iterator[None]:
    """Fails if a push sender's Firebase app outlives the block (a sender never closed);
    deletes it either way, so one test's leak does not spill into the next."""
    before = set(firebase_admin._apps)
    yield
    leaked = [
        app
        for name, app in list(firebase_admin._apps.items())
        if name not in before and name.startswith(APP_PREFIX)
    ]
    # In a thread: deleting an app closes its HTTP client with asyncio.run().
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        for app in leaked:
            pool.submit(firebase_admin.delete_app, app).result()
    assert not leaked, (
        f"Firebase apps left open (await sender.aclose()): {[a.name for a in leaked]}"
    )


@pytest.fixture
def fake_fcm() -> Iterator[FakeFcm]:
    """A FakeFcm on a fresh respx router (unmocked hosts are refused)."""
    with no_leaked_firebase_apps(), respx.mock(assert_all_called=False) as router:
        yield FakeFcm(router)


@pytest.fixture
def fast_sdk_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """firebase-admin's retries of 500/503 (four, 0.5 s backoff factor) without the waiting: only
    the `asyncio.sleep` its retry module sees is replaced. Returns the delays it asked for."""
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await real_sleep(0)

    patched = types.SimpleNamespace(sleep=sleep)
    monkeypatch.setattr(firebase_admin._retry, "asyncio", patched)
    return delays
