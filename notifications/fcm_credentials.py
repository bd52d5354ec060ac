"""Firebase service-account credentials whose OAuth access token is fetched over httpx.

firebase-admin sends messages with httpx but refreshes the access token with google-auth's
`requests` transport. These credentials ignore the transport they are handed and fetch the
token through httpx instead: one HTTP stack for every outbound call, and in tests respx mocks
the token endpoint like everything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import structlog
from firebase_admin import credentials  # type: ignore[import-untyped]
from google.auth import exceptions as auth_exceptions
from google.auth import transport
from google.oauth2 import service_account

from core.settings import Settings

# Sending messages needs no more than this (firebase-admin asks for cloud-platform and more).
FCM_SCOPES = ("https://www.googleapis.com/auth/firebase.messaging",)

log = structlog.get_logger(__name__)


class _HttpxResponse(transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxAuthRequest(transport.Request):
    """google-auth's HTTP interface over a synchronous httpx client."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _HttpxResponse:
        try:
            response = self._client.request(
                method,
                url,
                content=body,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            # The class only: the body (a signed assertion) never rides along.
            raise auth_exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"{type(exc).__name__} while fetching an OAuth token"
            ) from None
        return _HttpxResponse(response)


class HttpxServiceAccountCredentials(service_account.Credentials):
    """Service-account credentials that exchange their signed assertion over httpx.

    Refreshing is synchronous, as google-auth is: callers on an event loop run it in a thread.
    """

    token_timeout: float = 30.0
    # firebase-admin forces a refresh after every 401, including FCM's THIRD_PARTY_AUTH_ERROR
    # (a bad APNs key, nothing to do with our token): a token this young is kept instead, so a
    # batch of such answers does not fetch hundreds of tokens, each blocking the event loop.
    min_forced_refresh_seconds: float = 30.0
    _refreshed_at: float | None = None

    def refresh(self, request: object) -> None:
        """Fetch a new access token; `request` (google-auth's `requests` transport) is ignored."""
        young = (
            self._refreshed_at is not None
            and time.monotonic() - self._refreshed_at < self.min_forced_refresh_seconds
        )
        if self.valid and young:
            return
        with httpx.Client(timeout=self.token_timeout) as client:
            super().refresh(HttpxAuthRequest(client))  # type: ignore[no-untyped-call]
        self._refreshed_at = time.monotonic()
        log.info("push.oauth_token_fetched", expires_at=self.expiry)

    def _make_copy(self) -> HttpxServiceAccountCredentials:
        copy: HttpxServiceAccountCredentials = super()._make_copy()  # type: ignore[no-untyped-call]
        copy.token_timeout = self.token_timeout
        copy.min_forced_refresh_seconds = self.min_forced_refresh_seconds
        return copy


class ServiceAccount(credentials.Base):  # type: ignore[misc]
    """The firebase-admin credential for a service account, refreshed over httpx."""

    def __init__(self, info: Mapping[str, Any], *, timeout: float) -> None:
        super().__init__()
        if info.get("type") != "service_account":
            raise ValueError('the service account JSON must have "type": "service_account"')
        google_credential: HttpxServiceAccountCredentials = (
            HttpxServiceAccountCredentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=FCM_SCOPES
            )
        )
        google_credential.token_timeout = timeout
        self._credential = google_credential

    def __repr__(self) -> str:
        return f"ServiceAccount(client_email={self.service_account_email!r})"  # never the key

    def get_credential(self) -> HttpxServiceAccountCredentials:
        return self._credential

    @property
    def project_id(self) -> str | None:
        project_id: str | None = self._credential.project_id
        return project_id

    @property
    def service_account_email(self) -> str:
        email: str = self._credential.service_account_email
        return email


def service_account_info(settings: Settings) -> dict[str, Any] | None:
    """The service account the settings name (JSON text or a file), or None if they name none.

    Raises ValueError, naming the variable but never quoting its content, when it is unusable.
    """
    text = settings.fcm_credentials_json
    path = settings.fcm_credentials_file
    if text is not None and path:
        raise ValueError(
            "set WUJIANG_FCM_CREDENTIALS_JSON or WUJIANG_FCM_CREDENTIALS_FILE, not both"
        )
    if text is not None:
        return _parsed("WUJIANG_FCM_CREDENTIALS_JSON", text.get_secret_value())
    if path:
        try:
            content = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(
                f"WUJIANG_FCM_CREDENTIALS_FILE cannot be read: {type(exc).__name__}"
            ) from None
        return _parsed("WUJIANG_FCM_CREDENTIALS_FILE", content)
    return None


def _parsed(name: str, text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(info, dict):
        raise ValueError(f"{name} must hold a JSON object")
    return info
