"""Request context: a request id on every request and response, one log line and one metrics
observation per request."""

from __future__ import annotations

import re
import time

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.errors import REQUEST_ID_HEADER
from core.ids import new_id

# A caller's id is kept only if it cannot smuggle anything into logs or headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED_ROUTE = "unmatched"

log = structlog.get_logger(__name__)


def accept_request_id(value: str | None) -> str:
    """The caller's X-Request-ID if it is a sane token, else a fresh id."""
    if value is not None and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return str(new_id())


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/v1/items/{id}`), to keep label and log values few."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware), so contextvars and streaming behave."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # if the app raises before responding, the error handler answers 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                metrics.observe(scope["method"], route, status, elapsed)
                # Path only: query strings and bodies may carry personal data.
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
