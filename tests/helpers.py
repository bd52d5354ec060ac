"""Small helpers shared by tests (assertions and, later, async data factories)."""

from __future__ import annotations

from typing import Any

import httpx


def problem_of(response: httpx.Response) -> dict[str, Any]:
    """The problem+json body of `response`, checking the media type and status on the way."""
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return body
