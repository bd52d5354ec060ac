from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from api.app import create_app
from core.settings import Settings


class Closable:
    def __init__(self) -> None:
        self.closed = False

    async def dispose(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


async def test_lifespan_configures_logging_and_releases_connections(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    database, redis = Closable(), Closable()
    logging_calls: list[dict[str, Any]] = []
    monkeypatch.setattr("api.app.get_database", lambda: database)
    monkeypatch.setattr("api.app.get_redis", lambda: redis)
    monkeypatch.setattr("api.app.configure_logging", lambda **kw: logging_calls.append(kw))
    app = create_app(settings)

    async with app.router.lifespan_context(app):
        assert logging_calls == [{"level": settings.log_level, "json": settings.log_json}]
        assert not database.closed

    assert database.closed
    assert redis.closed


def test_every_router_is_mounted(settings: Settings) -> None:
    app = create_app(settings)
    schema_paths = set(app.openapi()["paths"])
    served = {path for context in iter_route_contexts(app.routes) if (path := context.path)}

    # Operators' probes are served but kept out of the client contract.
    assert {"/healthz", "/readyz", "/metrics"} <= served
    assert not {"/healthz", "/readyz", "/metrics"} & schema_paths
