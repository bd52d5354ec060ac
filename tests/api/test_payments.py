"""Points plus cash over HTTP: the PaymentIntent at the provider (mocked with respx), the signed
webhook that issues the voucher, and what failures, replays and late events do."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

import ledger
import notifications
import points
from core import clock
from core.settings import get_settings
from points.accounts import wallet
from points.errors import InvalidWebhookSignature
from points.service import payments
from tests.helpers import problem_of
from tests.points.test_rewards import (
    add_reward,
    assert_ledger_ok,
    fund,
    redemption_count,
    stock_left,
)
from tests.points_actors import make_resident

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PAYMENTS_URL = "https://payments.test"
SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def frozen(redis) -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
def provider(settings, monkeypatch) -> Iterator[respx.MockRouter]:
    # The app's settings (what the edges pass on) and the process's (the services' default).
    for configured in {id(settings): settings, id(get_settings()): get_settings()}.values():
        monkeypatch.setattr(configured, "payments_url", PAYMENTS_URL)
        monkeypatch.setattr(configured, "payments_api_key", SecretStr("sk_test_key"))
        monkeypatch.setattr(configured, "payments_webhook_secret", SecretStr(SECRET))
    with respx.mock(base_url=PAYMENTS_URL, assert_all_called=False) as mock:
        mock.post("/v1/payment_intents", name="create").mock(side_effect=_created)
        mock.get(path__regex=r"^/v1/payment_intents/(?P<pi>[^/]+)$", name="get").mock(
            side_effect=lambda request, pi: httpx.Response(
                200, json={"id": pi, "client_secret": f"{pi}_secret_x", "status": "open"}
            )
        )
        yield mock


def _created(request: httpx.Request) -> httpx.Response:
    form = parse_qs(request.content.decode())
    intent = "pi_" + form["metadata[redemption_id]"][0].replace("-", "")[:24]
    return httpx.Response(
        200,
        json={
            "id": intent,
            "object": "payment_intent",
            "amount": int(form["amount"][0]),
            "client_secret": f"{intent}_secret_abc",
            "status": "requires_payment_method",
        },
    )


def event(event_type: str, intent: str, event_id: str | None = None) -> bytes:
    body = {
        "id": event_id or f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": 1500}},
    }
    return json.dumps(body).encode()


def signed(body: bytes, *, at: datetime | None = None, secret: str = SECRET) -> dict[str, str]:
    t = int((at or clock.now()).timestamp())
    return {
        "Stripe-Signature": f"t={t},v1={payments.sign(body, secret, t)}",
        "Content-Type": "application/json",
    }


async def deliver(client, body: bytes, headers: dict[str, str] | None = None):
    return await client.post("/v1/payments/webhook", content=body, headers=headers or signed(body))


async def redeem_with_cash(client, session, resident, key: str = "buy-1"):
    return await client.post(
        "/v1/me/redemptions",
        json={"reward": "haircut"},
        headers={**resident.headers, "Idempotency-Key": key},
    )


@pytest.fixture
async def setup(session):
    resident = await make_resident(session)
    await fund(session, resident.id, 100)
    await add_reward(
        session,
        "haircut",
        kind="service",
        points_cost=40,
        cash_cents=1500,
        stock=2,
        voucher_valid_days=10,
    )
    return resident


async def test_paid_cash_part_issues_the_voucher(client, session, provider, setup) -> None:
    resident = setup

    created = await redeem_with_cash(client, session, resident)
    replay = await redeem_with_cash(client, session, resident)

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "awaiting_payment"
    assert body["voucher_code"] is None
    assert body["client_secret"].endswith("_secret_abc")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == body["id"]
    assert replay.json()["client_secret"]  # read back from the provider
    call = provider["create"].calls.last.request
    assert call.headers["Idempotency-Key"] == f"redemption:{body['id']}"
    assert call.headers["Authorization"] == "Bearer sk_test_key"
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(call.content.decode()) == {
        "amount": ["1500"],
        "currency": ["cny"],
        "metadata[redemption_id]": [body["id"]],
        "automatic_payment_methods[enabled]": ["true"],
    }
    assert provider["create"].call_count == 1
    assert await ledger.balance(session, account=wallet(resident.id)) == 60
    assert await notifications.pending(session, topic="rewards.redeemed") == []

    paid = event("payment_intent.succeeded", body["payment_intent_id"], "evt_paid")
    first = await deliver(client, paid)
    replayed = await deliver(client, paid)
    late_failure = await deliver(
        client, event("payment_intent.payment_failed", body["payment_intent_id"])
    )
    mine = await client.get(f"/v1/me/redemptions/{body['id']}", headers=resident.headers)

    assert first.json() == {"received": True, "outcome": "issued"}
    assert replayed.json() == {"received": True, "outcome": "duplicate"}
    assert late_failure.json() == {"received": True, "outcome": "unchanged"}
    assert mine.json()["status"] == "issued"
    assert mine.json()["voucher_code"]
    assert mine.json()["expires_at"].startswith("2026-12-11T02:00:00")
    assert len(await notifications.pending(session, topic="rewards.redeemed")) == 1
    assert await ledger.balance(session, account=wallet(resident.id)) == 60
    await assert_ledger_ok(session)


@pytest.mark.parametrize("failure", ["payment_intent.payment_failed", "payment_intent.canceled"])
async def test_a_failed_payment_gives_everything_back(
    client, session, provider, setup, failure
) -> None:
    resident = setup
    body = (await redeem_with_cash(client, session, resident)).json()

    failed = await deliver(client, event(failure, body["payment_intent_id"]))
    late_success = await deliver(
        client, event("payment_intent.succeeded", body["payment_intent_id"])
    )
    mine = await client.get(f"/v1/me/redemptions/{body['id']}", headers=resident.headers)

    assert failed.json()["outcome"] == "released"
    assert late_success.json()["outcome"] == "unchanged"
    assert mine.json()["status"] == "payment_failed"
    assert mine.json()["voucher_code"] is None
    assert await ledger.balance(session, account=wallet(resident.id)) == 100
    assert await stock_left(session, "haircut") == 2
    await assert_ledger_ok(session)


async def test_an_unpaid_redemption_expires_after_its_deadline(
    client, session, provider, setup
) -> None:
    resident = setup
    body = (await redeem_with_cash(client, session, resident)).json()

    assert await points.expire_vouchers(session, now=NOW + timedelta(minutes=29)) == 0
    assert await points.expire_vouchers(session, now=NOW + timedelta(minutes=30)) == 1
    late = await deliver(client, event("payment_intent.succeeded", body["payment_intent_id"]))

    assert late.json()["outcome"] == "unchanged"
    mine = await client.get(f"/v1/me/redemptions/{body['id']}", headers=resident.headers)
    assert mine.json()["status"] == "expired"
    assert await ledger.balance(session, account=wallet(resident.id)) == 100
    assert await stock_left(session, "haircut") == 2


async def test_without_a_provider_cash_rewards_are_unavailable(client, session, setup) -> None:
    response = await redeem_with_cash(client, session, setup)

    assert problem_of(response)["type"].endswith("payments-unavailable")
    assert response.status_code == 503
    assert await redemption_count(session) == 0


@pytest.mark.parametrize(
    "answer", [httpx.Response(500), httpx.Response(402, json={}), httpx.ConnectTimeout("slow")]
)
async def test_a_provider_failure_writes_nothing(client, session, provider, setup, answer) -> None:
    provider["create"].mock(side_effect=[answer])

    response = await redeem_with_cash(client, session, setup)

    assert problem_of(response)["type"].endswith("payment-provider-error")
    assert response.status_code == 502
    assert await redemption_count(session) == 0
    assert await ledger.balance(session, account=wallet(setup.id)) == 100
    assert await stock_left(session, "haircut") == 2


async def test_forged_stale_or_unsigned_webhooks_are_refused(client, provider) -> None:
    body = event("payment_intent.succeeded", "pi_x")
    t = int(clock.now().timestamp())
    good = payments.sign(body, SECRET, t)

    forged = await deliver(client, body, signed(body, secret="whsec_other"))
    stale = await deliver(client, body, signed(body, at=NOW - timedelta(seconds=301)))
    future = await deliver(client, body, signed(body, at=NOW + timedelta(seconds=301)))
    unsigned = await client.post("/v1/payments/webhook", content=body)
    tampered = await deliver(client, body + b" ", signed(body))
    rotated = await deliver(
        client, body, {"Stripe-Signature": f"t={t},v1={'0' * 64},v1={good},v0=abc"}
    )
    edge = await deliver(client, body, signed(body, at=NOW - timedelta(seconds=300)))

    for refused in (forged, stale, future, unsigned, tampered):
        assert problem_of(refused)["type"].endswith("invalid-webhook-signature")
        assert refused.status_code == 400
    assert rotated.status_code == 200
    assert rotated.json()["outcome"] == "ignored"  # no such intent
    assert edge.json()["outcome"] == "duplicate"  # same event id as `rotated`


async def test_unknown_event_types_are_acknowledged_and_ignored(client, provider) -> None:
    response = await deliver(client, event("charge.refunded", "pi_x"))

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe", b"[]", b"[" * 100_000 + b"]" * 100_000],
    ids=["not-utf-8", "not-an-object", "nested-100000-deep"],
)
async def test_authentic_bodies_that_are_no_event_are_acknowledged_and_ignored(
    client, provider, body
) -> None:
    """Signed, so the provider sent it, but not an event we can read: acknowledged, so the
    provider stops retrying (nested past the JSON parser's depth, it was a 500)."""
    response = await deliver(client, body)

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=2**33))
def test_a_signature_verifies_only_its_own_body_and_time(body: bytes, t: int) -> None:
    at = datetime.fromtimestamp(t, UTC)
    header = f"t={t},v1={payments.sign(body, SECRET, t)}"
    payments.verify_signature(body, header, SECRET, now=at)
    with pytest.raises(InvalidWebhookSignature):
        payments.verify_signature(body + b"x", header, SECRET, now=at)
    with pytest.raises(InvalidWebhookSignature):
        payments.verify_signature(body, header, SECRET, now=at + timedelta(seconds=301))


@given(st.text(max_size=120))
def test_any_header_is_either_accepted_or_refused_cleanly(header: str) -> None:
    with contextlib.suppress(InvalidWebhookSignature):
        payments.verify_signature(b"{}", header, SECRET, now=NOW)
