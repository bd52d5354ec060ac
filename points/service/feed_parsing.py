"""Reading feed batches (JSON lines, or CSV with a header) into rows, defensively.

The input comes from machines and other organisations' systems, so anything may arrive: binary
garbage, bad UTF-8, a 10 MB line, formulas meant for a spreadsheet. Every line becomes either a
FeedRow or a FeedRowError with its line number; only a batch that cannot be read at all (a CSV
without its header) is refused as a whole. Lines are read with a bounded `readline`, so one huge
line never sits in memory. Records span one line each (no newlines inside CSV quotes)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

from pydantic import ValidationError

from core import clock
from identity.errors import InvalidPhone
from identity.residents import phone_key
from points.errors import InvalidFeedBatch
from points.schemas.feeds import FeedFormat, FeedRecord, FeedRow, FeedRowError

MAX_LINE_BYTES = 4096  # a record is a few hundred bytes; anything longer is not one
_SKIP_BYTES = 1 << 16
REQUIRED_COLUMNS = frozenset({"record_id", "behaviour", "occurred_at", "community"})
KNOWN_COLUMNS = frozenset(FeedRecord.model_fields)
INVALID_ROW = "invalid-row"


def parse(stream: IO[bytes], fmt: FeedFormat) -> Iterator[FeedRow | FeedRowError]:
    """Every non-blank line of `stream` as a row or a row error, in order."""
    lines = _lines(stream)
    if fmt is FeedFormat.CSV:
        yield from _csv_rows(lines)
    else:
        for number, text in lines:
            yield text if isinstance(text, FeedRowError) else _json_row(number, text)


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, str | FeedRowError]]:
    """(line number, text) for each non-blank line; a row error for lines too long or not UTF-8."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield number, _error(number, None, f"The line is longer than {MAX_LINE_BYTES} bytes.")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, _error(number, None, "The line is not valid UTF-8.")
            continue
        text = text.removeprefix("\ufeff") if number == 1 else text
        text = text.rstrip("\r\n")
        if text.strip():
            yield number, text


def _skip_rest_of_line(stream: IO[bytes]) -> None:
    while chunk := stream.readline(_SKIP_BYTES):
        if chunk.endswith(b"\n"):
            return


def _json_row(number: int, text: str) -> FeedRow | FeedRowError:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return _error(number, None, "The line is not a JSON object.")
    if not isinstance(value, dict):
        return _error(number, None, "The line is not a JSON object.")
    return row_of(number, value)


def _csv_rows(
    lines: Iterator[tuple[int, str | FeedRowError]],
) -> Iterator[FeedRow | FeedRowError]:
    header: list[str] | None = None
    for number, text in lines:
        if isinstance(text, FeedRowError):
            if header is None:
                raise InvalidFeedBatch("The CSV header line cannot be read.")
            yield text
            continue
        cells = _cells(text)
        if header is None:
            header = _header(cells)
            continue
        if cells is None or len(cells) != len(header):
            yield _error(number, None, f"Expected {len(header)} comma-separated cells.")
            continue
        fields = {name: cell for name, cell in zip(header, cells, strict=True) if cell.strip()}
        yield row_of(number, fields)


def _cells(text: str) -> list[str] | None:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _header(cells: list[str] | None) -> list[str]:
    names = [cell.strip().lower() for cell in cells or []]
    missing = REQUIRED_COLUMNS - set(names)
    if missing or not {"resident", "phone"} & set(names) or len(set(names)) != len(names):
        raise InvalidFeedBatch(
            "The first line must be a CSV header naming record_id, resident (or phone), "
            "behaviour, quantity, occurred_at and community, each once.",
            missing=sorted(missing),
        )
    return names


def row_of(number: int, fields: dict[str, Any]) -> FeedRow | FeedRowError:
    """Validate one record's fields; the phone, if any, is replaced by its blind index."""
    raw_id = fields.get("record_id")
    record_id = raw_id if isinstance(raw_id, str) and _fits(raw_id) else None
    try:
        record = FeedRecord.model_validate(fields)
    except ValidationError as exc:
        return _error(number, record_id, _describe(exc))
    if record.resident is None and record.phone is None:
        return _error(number, record.record_id, "Give the resident's id or phone.")
    phone_index = None
    if record.phone is not None:
        try:
            phone_index = phone_key(record.phone)
        except InvalidPhone:
            return _error(number, record.record_id, "phone: not a mainland mobile number.")
    return FeedRow(
        line=number,
        record_id=record.record_id,
        resident_id=record.resident,
        phone_index=phone_index,
        behaviour=record.behaviour,
        quantity=record.quantity,
        occurred_at=clock.as_utc(record.occurred_at),
        community=record.community,
    )


def _describe(error: ValidationError) -> str:
    # Where and why, never the input: a feed's values may carry personal data.
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'record'}: {item['msg']}"
        for item in error.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems)[:500]


def _fits(record_id: str) -> bool:
    return 0 < len(record_id) <= 200 and record_id.isprintable()


def _error(number: int, record_id: str | None, message: str) -> FeedRowError:
    return FeedRowError(line=number, record_id=record_id, reason=INVALID_ROW, message=message)


def guess_format(filename: str, content_type: str | None = None) -> FeedFormat | None:
    """The format named by a media type or, failing that, a file extension."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in {"application/x-ndjson", "application/jsonl", "application/jsonlines"}:
        return FeedFormat.JSONL
    if media == "text/csv":
        return FeedFormat.CSV
    name = filename.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return FeedFormat.JSONL
    if name.endswith(".csv"):
        return FeedFormat.CSV
    return None
