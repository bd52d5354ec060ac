"""Problems in the YAML documents operators publish (the behaviour list, the rewards): every
problem found, each as `{path, message}` with the path into the document (`rewards[1].stock`),
so an operator fixes them all in one go."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ValidationError


def duplicate_codes(raw: Any, *, key: str) -> list[dict[str, str]]:
    """Codes used more than once in the list under `key`; checked on the raw document so they
    are reported alongside every other problem, not only once the rest is valid."""
    items = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return []
    codes = [item.get("code") for item in items if isinstance(item, dict)]
    counts = Counter(code for code in codes if isinstance(code, str))
    return [
        {"path": f"{key}[{index}].code", "message": f"code {code!r} is used more than once"}
        for index, code in enumerate(codes)
        if isinstance(code, str) and counts[code] > 1
    ]


def validation_problems(error: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as `{path, message}`, the path written as in the document."""
    problems = []
    for item in error.errors(include_url=False):
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append({"path": path or "(document)", "message": message})
    return problems
