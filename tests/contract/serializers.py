"""Bodies in the contract's media types that schemathesis does not write itself: a feed batch
as JSON lines (the schema describes one line) or as CSV (a string)."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def json_lines(ctx: Any, value: Any) -> bytes:
    """One generated record per line; a generated list is several."""
    records = value if isinstance(value, list) else [value]
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


@schemathesis.serializer("text/csv")
def csv_text(ctx: Any, value: Any) -> bytes:
    """The generated text as it is (the contract describes CSV as a string)."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()
