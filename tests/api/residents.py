"""Signing a resident in over HTTP, for the API tests (see tests/api/conftest.py's fixtures)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx

from core import clock

SMS_URL = "https://sms.gateway.test/send"
PHONE = "13812345678"


def last_code(gateways) -> str:
    sent = json.loads(gateways.calls.last.request.content)
    return re.search(r"\d{6}", sent["text"]).group(0)


async def sign_in(client, gateways, phone=PHONE, device="iPhone") -> dict:
    sent = await client.post("/v1/auth/sms-codes", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    signed = await client.post(
        "/v1/auth/sessions/sms",
        json={"phone": phone, "code": last_code(gateways), "device_name": device},
    )
    assert signed.status_code == 201, signed.text
    clock.advance(timedelta(seconds=61))  # the next code for this phone may be sent
    return signed.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def refresh(client, tokens: dict, client_id="wujiang-app") -> httpx.Response:
    return await client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
