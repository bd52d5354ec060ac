"""One set of exception handlers: every error leaves as RFC 9457 `application/problem+json`."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from api.idempotency import Replay
from core.errors import (
    OAUTH_PATH_PREFIX,
    PROBLEM_TYPE_PREFIX,
    VALIDATION_PROBLEM_TITLE,
    VALIDATION_PROBLEM_TYPE,
    DomainError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"

log = structlog.get_logger(__name__)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    request: Request,
    *,
    type_: str,
    title: str,
    status: int,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
    **more: Any,
) -> ProblemResponse:
    """A problem+json response; extension members never override the standard ones (an
    extension named like one, `status` say, is dropped rather than break the response)."""
    body: dict[str, Any] = jsonable_encoder({**(extensions or {}), **more})
    body.update(type=type_, title=title, status=status, instance=request.url.path)
    if detail is not None:
        body["detail"] = detail
    return ProblemResponse(body, status_code=status, headers=headers)


async def domain_error_handler(request: Request, exc: DomainError) -> JSONResponse:
    oauth_error = getattr(exc, "oauth_error", None)
    if oauth_error and request.url.path.startswith(OAUTH_PATH_PREFIX):
        # OAuth clients parse RFC 6749's own error body, not problem+json.
        return JSONResponse(
            {"error": oauth_error, "error_description": exc.detail},
            status_code=exc.status,
            headers={"Cache-Control": "no-store", **exc.headers()},
        )
    return problem(
        request,
        type_=exc.type_uri(),
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        headers=exc.headers() or None,
        extensions=exc.extensions,
    )


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Only where and why: the input itself may carry personal data, so it is never echoed.
    if request.url.path.startswith(OAUTH_PATH_PREFIX):
        fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        return JSONResponse(
            {"error": "invalid_request", "error_description": f"Missing or invalid: {fields}"},
            status_code=400,
            headers={"Cache-Control": "no-store"},
        )
    errors = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    return problem(
        request,
        type_=PROBLEM_TYPE_PREFIX + VALIDATION_PROBLEM_TYPE,
        title=VALIDATION_PROBLEM_TITLE,
        status=422,
        detail=f"{len(errors)} field(s) failed validation",
        errors=errors,
    )


async def http_error_handler(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # FastAPI's answer to a JSON body it could not decode as text (not UTF-8): the same
        # refusal as any other body that is not JSON.
        unreadable = {"type": "json_invalid", "loc": ("body",), "msg": "The body is not UTF-8"}
        return await validation_error_handler(request, RequestValidationError([unreadable]))
    title = _status_phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem(
        request,
        type_=f"{PROBLEM_TYPE_PREFIX}http-{exc.status_code}",
        title=title,
        status=exc.status_code,
        detail=detail,
        headers=exc.headers,
    )


async def unhandled_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    # Runs in Starlette's outermost middleware, after the request-id middleware has unwound:
    # the request id comes from request state, and goes back in the header for support calls.
    request_id = getattr(request.state, "request_id", None)
    log.exception("http.unhandled_error", request_id=request_id, exc_info=exc)
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return problem(
        request,
        type_=PROBLEM_TYPE_PREFIX + "internal-error",
        title="Internal server error",
        status=500,
        detail="The server failed to handle the request; it has been logged.",
        headers=headers,
    )


async def replay_handler(request: Request, replay: Replay) -> Response:
    """A retry with a remembered Idempotency-Key: the first request's answer, as it was."""
    return replay.response()


def register_error_handlers(app: FastAPI) -> None:
    """Install the handlers; the only place errors become HTTP responses."""
    # The decorator form accepts handlers typed for their own exception class.
    app.exception_handler(Replay)(replay_handler)
    app.exception_handler(DomainError)(domain_error_handler)
    app.exception_handler(RequestValidationError)(validation_error_handler)
    app.exception_handler(HTTPException)(http_error_handler)
    app.exception_handler(Exception)(unhandled_error_handler)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
