"""Push through Firebase Cloud Messaging (HTTP v1) with firebase-admin's `send_each_async`,
over a Firebase app of the sender's own whose OAuth token is fetched over httpx."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import firebase_admin  # type: ignore[import-untyped]
import structlog
from firebase_admin import exceptions, messaging
from google.auth import exceptions as auth_exceptions

from core.ids import new_id
from core.settings import Settings
from notifications.fcm_credentials import ServiceAccount, service_account_info
from notifications.fcm_messages import classify, fcm_message
from notifications.push import PushMessage, PushOutcome, PushResult

# send_each_async refuses more in one call.
MAX_BATCH = 500

log = structlog.get_logger(__name__)


class FcmPush:
    """Firebase Cloud Messaging through a Firebase app of its own. Use it on one event loop and
    `await aclose()` (or `async with`) when done: that deletes the app and its connections."""

    def __init__(
        self, service_account: Mapping[str, Any], *, project_id: str | None = None, timeout: float
    ) -> None:
        self._credential = ServiceAccount(service_account, timeout=timeout)
        self.project_id = project_id or self._credential.project_id
        if not self.project_id:
            raise ValueError("no Firebase project: set WUJIANG_FCM_PROJECT_ID")
        self._app = firebase_admin.initialize_app(
            self._credential,
            {"projectId": self.project_id, "httpTimeout": timeout},
            name=f"wujiang-push-{new_id().hex}",
        )
        self._token_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> FcmPush:
        """The sender for the configured service account; ValueError if there is none usable."""
        info = service_account_info(settings)
        if info is None:
            raise ValueError("neither WUJIANG_FCM_CREDENTIALS_JSON nor _FILE is set")
        return cls(info, project_id=settings.fcm_project_id, timeout=settings.fcm_timeout_seconds)

    def __repr__(self) -> str:
        return f"FcmPush(project_id={self.project_id!r}, app={self._app.name!r})"  # never the key

    async def __aenter__(self) -> FcmPush:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        """Send in chunks of at most 500; a chunk that cannot be authorised is retried whole."""
        if self._closed:
            raise RuntimeError("FcmPush is closed")
        results: list[PushResult] = []
        for start in range(0, len(messages), MAX_BATCH):
            chunk = messages[start : start + MAX_BATCH]
            refused = await self._authorize()
            if refused is not None:
                results.extend([refused] * (len(messages) - start))
                break
            results.extend(await self._send_chunk(chunk))
        _log_summary(results)
        return results

    async def aclose(self) -> None:
        """Close the HTTP connections and delete the Firebase app; later sends raise."""
        if self._closed:
            return
        self._closed = True
        # firebase-admin closes its httpx client with asyncio.run(), which cannot run on a
        # running loop: close it here, on the loop that used it, and let delete_app (in a
        # thread, where asyncio.run works) find it closed already.
        services = getattr(self._app, "_services", None) or {}
        client = getattr(services.get("_messaging"), "_async_client", None)
        if client is not None:
            await client.aclose()
        await asyncio.to_thread(firebase_admin.delete_app, self._app)

    async def _authorize(self) -> PushResult | None:
        """Have a valid access token before sending, fetched in a thread; None when there is
        one, else the RETRY result every message gets. firebase-admin would otherwise fetch it
        synchronously on the event loop, once per message of the chunk while the endpoint fails."""
        google_credential = self._credential.get_credential()
        async with self._token_lock:
            if google_credential.valid:
                return None
            try:
                await asyncio.to_thread(google_credential.refresh, None)
            except auth_exceptions.TransportError as exc:
                log.error("push.oauth_unreachable", error=type(exc).__name__)
                return PushResult(PushOutcome.RETRY, "AUTH_UNAVAILABLE")
            except auth_exceptions.GoogleAuthError as exc:
                # The class only: the message quotes the token endpoint's answer.
                log.error("push.oauth_refused", error=type(exc).__name__)
                return PushResult(PushOutcome.RETRY, "AUTH_REFUSED")
        return None

    async def _send_chunk(self, chunk: Sequence[PushMessage]) -> list[PushResult]:
        outgoing = [fcm_message(message) for message in chunk]
        try:
            batch = await messaging.send_each_async(outgoing, app=self._app)
        except exceptions.FirebaseError as exc:
            # A failure of the batch as a whole (the SDK wraps any non-HTTP error this way).
            log.error("push.batch_failed", error=exc.code, cause=type(exc.cause).__name__)
            return [PushResult(PushOutcome.RETRY, exc.code)] * len(chunk)
        except ValueError:
            # The SDK validates every message before sending any: one malformed message (a
            # non-string data value, an empty token) refuses the chunk. Send each on its own.
            return list(await asyncio.gather(*(self._send_one(m) for m in outgoing)))
        return [classify(response) for response in batch.responses]

    async def _send_one(self, message: Any) -> PushResult:
        if not message.token:
            return PushResult(PushOutcome.INVALID_TOKEN, "MISSING_TOKEN")
        try:
            batch = await messaging.send_each_async([message], app=self._app)
        except exceptions.FirebaseError as exc:
            return PushResult(PushOutcome.RETRY, exc.code)
        except ValueError:
            return PushResult(PushOutcome.RETRY, "INVALID_MESSAGE")
        return classify(batch.responses[0])


def _log_summary(results: Sequence[PushResult]) -> None:
    if not results:
        return
    outcomes = Counter(result.outcome.value for result in results)
    errors = Counter(result.error for result in results if result.error)
    log.info(
        "push.sent",
        messages=len(results),
        sent=outcomes[PushOutcome.SENT.value],
        invalid_token=outcomes[PushOutcome.INVALID_TOKEN.value],
        retry=outcomes[PushOutcome.RETRY.value],
        errors=dict(errors),
    )
