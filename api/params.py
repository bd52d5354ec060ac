"""Query parameter types that take only the spelling the contract documents. A query string is
text, and pydantic's lax parsing reads more into it than the contract promises (`to=0` as
1970-01-01, `unread_only=yes` or `=1` as true): a client relying on that would break the day
the parsing changes, so it is refused as `validation-error` instead."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: Any) -> Any:
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value  # the calendar itself is checked by the date it becomes


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise ValueError("a flag is `true` or `false`")
        return value == "true"
    return value


Day = Annotated[date, BeforeValidator(_day)]
Flag = Annotated[bool, BeforeValidator(_flag)]
