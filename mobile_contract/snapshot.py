"""The committed snapshot of the contract: `mobile_contract/openapi.json`.

Written with sorted keys and two-space indents, so the file changes only where the contract
does, and a review of its diff is a review of what client teams will see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("openapi.json")
REGENERATE = "wujiang contract export"


def render(document: dict[str, Any]) -> str:
    """The document as the snapshot stores it."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
