"""`wujiang serve --with-worker`: the API process runs the worker as a task, which delivers
while the app runs and stops with it."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from api.app import _worker
from core.db import Database
from core.settings import Settings, get_settings
from tests.notifications.worker_kit import (
    SMS_URL,
    awarded,
    clear_outbox,
    inbox_of,
    notify,
    resident,
)


async def test_the_api_process_delivers_while_it_runs(
    committed_db: Database, settings: Settings
) -> None:
    configured = settings.model_copy(
        update={
            "worker_in_process": True,
            "worker_poll_seconds": 0.05,
            "sms_gateway_url": SMS_URL,
            "sms_gateway_token": SecretStr("sms-secret"),
        }
    )
    get_settings.install(configured)
    someone = await resident(committed_db, "13812340000")
    await clear_outbox(committed_db)
    async with _worker(configured):
        await notify(committed_db, someone.id, "points.awarded", **awarded())
        async with asyncio.timeout(10):
            while not await inbox_of(committed_db, someone.id):  # noqa: ASYNC110 - another task
                await asyncio.sleep(0.05)
    [item] = await inbox_of(committed_db, someone.id)
    assert item.topic == "points.awarded"
