"""Integration feeds over HTTP: a feed machine posts a batch of records, gets the per-row report.

The machine signs in with the OAuth 2.0 client credentials grant (`grant_type=client_credentials`
at /oauth2/token, HTTP Basic with the client id and secret from `wujiang clients add --scope
feed:<source>`), then posts batches with the token. Batches are idempotent by design: each
record's `record_id` is its idempotency key, so re-sending a batch (after a timeout, say) awards
nothing twice and reports the records already imported as duplicates; no Idempotency-Key header
is needed. A batch is at most MAX_BATCH_BYTES and MAX_BATCH_ROWS: split larger files."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.routing import contract_router
from core.db import get_database
from core.redis import get_redis
from identity import client_credentials, clients, tokens
from identity.errors import ClientNotFound, InsufficientScope, InvalidToken, NotAuthenticated
from identity.sessions import API_AUDIENCE
from mobile_contract.problems import raises
from points.errors import FeedBatchTooLarge, InvalidFeedBatch, NoBehaviourList, UnknownFeedSource
from points.schemas.feeds import SOURCE_PATTERN, FeedRecord, FeedReport, FeedRow, FeedRowError
from points.service import feed_parsing, feeds

router = contract_router(tags=["partner"])
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="FeedToken",
    description="A feed machine's access token, from the client credentials grant with scope "
    "`feed:<source>`.",
)

MAX_BATCH_BYTES = 10 * 1024 * 1024
MAX_BATCH_ROWS = 20_000
Source = Annotated[str, PathParam(pattern=SOURCE_PATTERN, examples=["garbage-sorting"])]
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def client_credentials_grant(
    session: AsyncSession, request: Request, form: Mapping[str, str]
) -> dict[str, Any]:
    """RFC 6749 §4.4: a feed machine's token, for itself (registered in api.oauth.GRANTS)."""
    return await client_credentials.issue(
        session, get_redis(), authorization=request.headers.get("authorization"), form=form
    )


@raises(NotAuthenticated, InvalidToken, InsufficientScope)
async def feed_machine(source: Source, credentials: Bearer) -> str:
    """The client id of the feed machine calling, if its token carries `feed:<source>`.

    Checked in a unit of work of its own, closed before the import starts its own (on SQLite
    an open write transaction here would block them)."""
    if credentials is None:
        raise NotAuthenticated("This needs a feed machine's access token (Authorization: Bearer).")
    scope = f"feed:{source}"
    async with get_database().unit_of_work() as session:
        claims = await tokens.verify_access_token(
            session, credentials.credentials, audience=API_AUDIENCE, redis=get_redis()
        )
        if not client_credentials.is_machine_token(claims) or scope not in claims.scopes:
            raise InsufficientScope(
                f"This needs a feed machine's token with the {scope!r} scope.", scope=scope
            )
        try:
            await clients.get_client(session, claims.client_id)
        except ClientNotFound:
            raise NotAuthenticated("This client is disabled.") from None
    return claims.client_id


_JSON_LINES_EXAMPLE = (
    '{"record_id": "gs-sl-0417-20250320-000187", "resident": '
    '"0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", "behaviour": "garbage-sorting", "quantity": 2.5, '
    '"occurred_at": "2025-03-20T07:42:10+08:00", "community": "songling"}\n'
    '{"record_id": "gs-sl-0417-20250320-000188", "phone": "13800138000", '
    '"behaviour": "garbage-sorting", "occurred_at": "2025-03-20T07:45:31+08:00", '
    '"community": "songling"}\n'
)
_CSV_EXAMPLE = (
    "record_id,resident,phone,behaviour,quantity,occurred_at,community\n"
    "gs-sl-0417-20250320-000187,0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b,,garbage-sorting,2.5,"
    "2025-03-20T07:42:10+08:00,songling\n"
    "gs-sl-0417-20250320-000188,,13800138000,garbage-sorting,1,"
    "2025-03-20T07:45:31+08:00,songling\n"
)
# Before OpenAPI 3.2's `itemSchema`, the `schema` of a sequential media type (JSON lines)
# describes each item: here, each line.
_RECORD = FeedRecord.model_json_schema(mode="validation")
FEED_BATCH_BODY = {
    "required": True,
    "description": "UTF-8, one record per line (no line breaks inside a record), at most "
    f"{MAX_BATCH_BYTES // (1024 * 1024)} MB and {MAX_BATCH_ROWS:,} rows; blank lines are "
    "skipped. A line that cannot be read is reported in `errors`; the others still count.",
    "content": {
        "application/x-ndjson": {
            "schema": {
                **_RECORD,
                "description": "JSON lines: each line is one object of this shape. "
                + _RECORD["description"],
            },
            "example": _JSON_LINES_EXAMPLE,
        },
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "CSV whose first line is a header naming the columns, each once, "
                "in any order: `record_id`, `behaviour`, `occurred_at` and `community`, and "
                "`resident` or `phone` (or both); `quantity` optionally (default 1). The cells "
                "are read as the JSON lines' members (an empty cell is a missing member); other "
                "columns are ignored.",
            },
            "example": _CSV_EXAMPLE,
        },
    },
}


@router.post(
    "/v1/feeds/{source}/batches",
    summary="Import a batch of feed records",
    openapi_extra={"requestBody": FEED_BATCH_BODY},
)
@raises(FeedBatchTooLarge, InvalidFeedBatch, NoBehaviourList, UnknownFeedSource)
async def import_feed_batch(
    source: Source, request: Request, _client: Annotated[str, Depends(feed_machine)]
) -> FeedReport:
    """Award points for each record (JSON lines, or CSV with a header); 200 with the report.

    Safe to re-send: records already imported count as duplicates. Failing rows are listed in
    `errors` and never stop the others. At most 10 MB and 20,000 rows per request (413). `404
    unknown-feed-source`: no behaviour of the current list is certified by this feed."""
    fmt = feed_parsing.guess_format("", request.headers.get("content-type"))
    if fmt is None:
        raise InvalidFeedBatch("Send the batch as application/x-ndjson or text/csv.")
    body = await _body(request)
    rows = list(feed_parsing.parse(io.BytesIO(body), fmt))
    _check_rows(rows)
    return await feeds.import_feed(get_database().unit_of_work, source=source, rows=rows)


async def _body(request: Request) -> bytes:
    too_large = FeedBatchTooLarge(
        f"A batch is at most {MAX_BATCH_BYTES} bytes: split it.",
        max_bytes=MAX_BATCH_BYTES,
        max_rows=MAX_BATCH_ROWS,
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise too_large
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_BATCH_BYTES:
            raise too_large
        parts.append(part)
    return b"".join(parts)


def _check_rows(rows: list[FeedRow | FeedRowError]) -> None:
    if len(rows) > MAX_BATCH_ROWS:
        raise FeedBatchTooLarge(
            f"A batch is at most {MAX_BATCH_ROWS} rows: split it.",
            max_bytes=MAX_BATCH_BYTES,
            max_rows=MAX_BATCH_ROWS,
        )
