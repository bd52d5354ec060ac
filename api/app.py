"""The application factory: routers, middleware and error handlers assembled in one place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI

from api import activity as activity_api
from api import auth, health, jwks, me, metrics, oauth
from api import authorize as authorize_api
from api import awards as awards_api
from api import behaviours as behaviours_api
from api import cards as cards_api
from api import consents as consents_api
from api import device as device_api
from api import feeds as feeds_api
from api import merchant as merchant_api
from api import notifications as notifications_api
from api import oidc as oidc_api
from api import payments as payments_api
from api import points as points_api
from api import reports as reports_api
from api import rewards as rewards_api
from api import staff as staff_api
from api.deps import refuse_nul_characters
from api.errors import register_error_handlers
from api.middleware import RequestContextMiddleware
from channels.hotline import api as hotline_api
from channels.kiosk import api as kiosk_api
from channels.tv import api as tv_api
from core.db import get_database
from core.logging import configure_logging
from core.redis import get_redis
from core.settings import Settings, get_settings
from identity.sms import sms_sender
from mobile_contract import document as contract
from notifications.push import push_sender
from notifications.worker import Worker
from points.jobs import JOBS

# Every router of the API; a new domain adds its router here and nowhere else. A router carries
# its own prefix (`APIRouter(prefix="/v1/points")`) and is included without one: metrics and
# logs label requests with the matched route's path, which lacks include-time prefixes.
ROUTERS: list[APIRouter] = [
    health.router,
    metrics.router,
    jwks.router,
    auth.router,
    me.router,
    oauth.router,
    oidc_api.router,
    consents_api.router,
    device_api.router,
    staff_api.router,
    authorize_api.router,
    authorize_api.app_router,
    behaviours_api.router,
    awards_api.router,
    points_api.router,
    points_api.rankings_router,
    reports_api.router,
    rewards_api.router,
    rewards_api.admin_router,
    merchant_api.router,
    payments_api.router,
    feeds_api.router,
    notifications_api.router,
    tv_api.router,
    tv_api.pairing_router,
    kiosk_api.router,
    activity_api.router,
    cards_api.router,
    cards_api.staff_router,
    hotline_api.router,
    hotline_api.app_router,
]

# The contract's semantic version: a breaking change to any client-facing operation bumps the
# major (see mobile_contract/conventions.md and `wujiang contract check`).
API_VERSION = "1.0.0"

log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API. `settings` shape the app (logging, env); the database and Redis are the
    process-wide ones from `core.db.get_database()` and `core.redis.get_redis()`."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Smart Wujiang API",
        version=API_VERSION,
        debug=False,  # debug tracebacks in responses would leak internals
        lifespan=_lifespan,
        generate_unique_id_function=contract.operation_id,
    )
    app.state.settings = settings
    for router in ROUTERS:
        # The browser pages of the authorization flow answer with pages, not problem+json,
        # and check their own parameters (identity.authorize.single_params, NUL included).
        guards = [] if router is authorize_api.router else [Depends(refuse_nul_characters)]
        app.include_router(router, dependencies=guards)
    register_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.openapi = lambda: _contract(app)  # type: ignore[method-assign]
    return app


def _contract(app: FastAPI) -> dict[str, Any]:
    """`/openapi.json`: the client contract, built once per app (mobile_contract/openapi.json
    is its committed snapshot)."""
    if app.openapi_schema is None:
        app.openapi_schema = contract.build(app)
    return app.openapi_schema


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    configure_logging(level=settings.log_level, json=settings.log_json)
    log.info("app.started", env=settings.env)
    try:
        if settings.worker_in_process:
            async with _worker(settings):
                yield
        else:
            yield
    finally:
        await get_database().dispose()
        await get_redis().aclose()
        log.info("app.stopped")


@asynccontextmanager
async def _worker(settings: Settings) -> AsyncIterator[None]:
    """The notification worker as a task of this process, stopped with it."""
    push = push_sender(settings)
    worker = Worker(get_database(), settings, push=push, sms=sms_sender(settings), jobs=JOBS)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
        await push.aclose()
