"""A worker process for the crash-safety tests: the real worker (`wujiang worker`'s loop)
pushing to the fake FCM, which writes every message it receives to a file before answering,
so what reached "FCM" survives the process being killed.

    python -m tests.notifications.crash_worker RECORD [--block-after N] [--latency S] [--until-idle]

With `--block-after N`, requests after the N-th are received (and recorded) but never answered:
the worker hangs mid-batch, as it would on a slow network, for the test to kill it there.
Settings come from the environment (the test session's), with this process's test service
account for FCM."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import httpx
import respx

from core.db import Database
from core.settings import get_settings
from identity.sms import sms_sender
from notifications.push import push_sender
from notifications.worker import Worker
from tests.notifications.fcm_mock import FakeFcm, settings_with_fcm


async def main(record: str, block_after: int | None, latency: float, until_idle: bool) -> None:
    # This process's fake FCM made its own test key: the credentials must be its own too.
    settings = settings_with_fcm(get_settings())
    get_settings.install(settings)
    received = 0
    never = asyncio.Event()
    # A blocking append is the point: it is on disk before FCM answers.
    with respx.mock(assert_all_called=False) as router, open(record, "a") as out:  # noqa: ASYNC230
        fake = FakeFcm(router)
        fake.latency = latency

        async def send(request: httpx.Request) -> httpx.Response:
            nonlocal received
            message = json.loads(request.content)["message"]
            out.write(json.dumps([message["token"], message["data"]["notification_id"]]) + "\n")
            out.flush()
            os.fsync(out.fileno())
            received += 1
            if block_after is not None and received > block_after:
                await never.wait()  # received, never answered
            return await fake._send(request)

        fake.send_route.side_effect = send
        database = Database(settings)
        push = push_sender(settings)
        worker = Worker(database, settings, push=push, sms=sms_sender(settings))
        try:
            if until_idle:
                await worker.run_until_idle()
            else:
                await worker.run(asyncio.Event())
        finally:
            await push.aclose()
            await database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("record")
    parser.add_argument("--block-after", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--until-idle", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.record, args.block_after, args.latency, args.until_idle))
    sys.exit(0)
