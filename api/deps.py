"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import get_database


async def get_session() -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the handler returns, rolled back on error."""
    async with get_database().unit_of_work() as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is never reported
# to the client as a success (FastAPI's default would commit after sending).
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def caller_bucket(request: Request) -> str:
    """The caller's address as a rate-limit bucket name: hashed, since an IP is personal data."""
    address = request.client.host if request.client else "unknown"
    return hashlib.sha256(address.encode()).hexdigest()[:32]


NUL = "\x00"
_JSON_NUL = b"\\u0000"  # how a JSON text spells U+0000 (a raw one is not valid JSON)


async def refuse_nul_characters(request: Request) -> None:
    """No text a client sends may hold U+0000 (NUL): PostgreSQL stores it in neither text nor
    JSON columns, so it would fail the unit of work there (and be kept on SQLite). One check
    for every route (api.app adds it), before any other dependency: path and query parameters,
    JSON and form bodies. Refused as a validation error naming the field, never echoing it
    (422 `validation-error`; RFC 6749's `invalid_request` on the OAuth endpoints). Checked
    elsewhere: feed batches (NDJSON, CSV) row by row, refusing such a row alone; Basic
    credentials where identity.clients decodes them; the browser pages of the authorization
    flow in identity.authorize.single_params, which answer with a page."""
    found: list[tuple[str, ...]] = [
        ("path", name) for name, value in request.path_params.items() if NUL in str(value)
    ]
    found += [
        ("query", _printable(name))
        for name, value in request.query_params.multi_items()
        if NUL in name or NUL in value
    ]
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        if _JSON_NUL in await request.body():
            found += [("body", *place) for place in await _json_places_with_nul(request)]
    elif media == "application/x-www-form-urlencoded":
        # The parsed form, as the route reads it (parsed once; the route may have already).
        found += [
            ("body", _printable(name))
            for name, value in (await request.form()).multi_items()
            if NUL in name or (isinstance(value, str) and NUL in value)
        ]
    if found:
        raise RequestValidationError(
            [
                {"loc": place, "msg": "NUL characters (U+0000) are not allowed", "type": "nul"}
                for place in found
            ]
        )


async def _json_places_with_nul(request: Request) -> list[tuple[str, ...]]:
    """Where in the JSON body a key or a string holds NUL (nothing if the body is not JSON:
    the route refuses it, or ignores it)."""
    try:
        document = await request.json()
    except (ValueError, RecursionError):
        return []
    return [place for place, text in _strings(document) if NUL in text]


def _strings(document: Any) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every key and string of a JSON document with its place, without recursion (a deeply
    nested body must not exhaust the stack)."""
    pending: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while pending:
        place, value = pending.pop()
        if isinstance(value, str):
            yield place, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield place, key
                pending.append(((*place, _printable(key)), item))
        elif isinstance(value, list):
            pending.extend(((*place, str(index)), item) for index, item in enumerate(value))


def _printable(name: str) -> str:
    return name.replace(NUL, "\\0")
