"""Idempotency-Key over HTTP: a retry is answered exactly as the first request was and nothing
happens twice; another request under the same key is refused; keys are the caller's own; a
refused request leaves its key free; answers are kept 24 hours, encrypted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

import ledger
from api.app import create_app
from api.routing import ContractRoute
from core import clock, idempotency
from core.idempotency import IdempotencyRecord
from points.accounts import wallet
from tests.helpers import problem_of
from tests.points.test_rewards import add_reward, fund
from tests.points_actors import make_resident

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
REDEEM = "/v1/me/redemptions"


@pytest.fixture(autouse=True)
def frozen(redis):
    with clock.frozen(NOW):
        yield


def keyed(actor, key: str) -> dict[str, str]:
    return {**actor.headers, "Idempotency-Key": key}


async def test_a_retry_is_answered_as_the_first_request_was_and_nothing_happens_twice(
    client, session
) -> None:
    resident = await make_resident(session)
    await fund(session, resident.id, 200)
    await add_reward(session)
    headers = keyed(resident, str(uuid.uuid4()))

    first = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers)
    retries = [await client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers)]
    retries.append(await client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers))

    assert first.status_code == 201, first.text
    for retry in retries:
        assert (retry.status_code, retry.content) == (201, first.content)
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.headers["content-type"] == first.headers["content-type"]
    assert await ledger.balance(session, account=wallet(resident.id)) == 150
    listed = await client.get("/v1/me/vouchers", headers=resident.headers)
    assert len(listed.json()["items"]) == 1


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    client, session
) -> None:
    resident = await make_resident(session)
    await fund(session, resident.id, 200)
    await add_reward(session)
    await add_reward(session, "mug")
    headers = keyed(resident, "order-1")
    await client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers)

    other_body = await client.post(REDEEM, json={"reward": "mug"}, headers=headers)
    other_path = await client.post(
        f"{REDEEM}/{uuid.uuid4()}/cancel", headers={**headers, "Idempotency-Key": "order-1"}
    )

    assert other_body.status_code == 422
    assert problem_of(other_body)["type"].endswith("idempotency-key-reused")
    assert problem_of(other_path)["type"].endswith("idempotency-key-reused")
    assert await ledger.balance(session, account=wallet(resident.id)) == 150


async def test_keys_belong_to_their_caller(client, session) -> None:
    ann = await make_resident(session)
    bo = await make_resident(session, phone="13912345678")
    for resident in (ann, bo):
        await fund(session, resident.id, 100)
    await add_reward(session)

    ann_got = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=keyed(ann, "k1"))
    bo_got = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=keyed(bo, "k1"))

    assert (ann_got.status_code, bo_got.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in bo_got.headers
    assert ann_got.json()["id"] != bo_got.json()["id"]
    assert await ledger.balance(session, account=wallet(bo.id)) == 50


async def test_a_refused_request_leaves_its_key_free_for_the_corrected_retry(
    client, session
) -> None:
    resident = await make_resident(session)
    await add_reward(session)
    headers = keyed(resident, "after-topping-up")

    refused = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers)
    await fund(session, resident.id, 60)
    accepted = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers)

    assert problem_of(refused)["type"].endswith("insufficient-points")
    assert accepted.status_code == 201
    assert "Idempotent-Replayed" not in accepted.headers


@pytest.mark.parametrize(
    "key", [b"", b" leading-space", b"tab\there", "钥匙".encode(), b"x" * 256, b"\xff\xfe"]
)
async def test_a_malformed_key_is_a_validation_error(client, session, key: bytes) -> None:
    resident = await make_resident(session)
    await add_reward(session)

    response = await client.post(
        REDEEM, json={"reward": "tote-bag"}, headers={**resident.headers, "Idempotency-Key": key}
    )

    assert response.status_code == 422
    assert problem_of(response)["errors"][0]["field"] == "header.Idempotency-Key"


async def test_a_required_key_cannot_be_left_out(client, session) -> None:
    resident = await make_resident(session)

    response = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=resident.headers)

    assert response.status_code == 422
    assert problem_of(response)["errors"][0]["field"] == "header.Idempotency-Key"


async def test_an_optional_key_replays_a_naturally_idempotent_write_too(client, session) -> None:
    resident = await make_resident(session)
    await fund(session, resident.id, 100)
    await add_reward(session)
    made = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=keyed(resident, "a"))
    cancel = f"{REDEEM}/{made.json()['id']}/cancel"

    first = await client.post(cancel, headers=keyed(resident, "c"))
    again = await client.post(cancel, headers=keyed(resident, "c"))
    unkeyed = await client.post(cancel, headers=resident.headers)

    assert first.status_code == again.status_code == unkeyed.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in unkeyed.headers


async def test_answers_are_kept_encrypted_for_24_hours_then_purged(client, session) -> None:
    resident = await make_resident(session)
    await fund(session, resident.id, 100)
    await add_reward(session)
    made = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=keyed(resident, "v"))
    record = (await session.execute(select(IdempotencyRecord))).scalars().one()

    assert made.json()["voucher_code"] not in (record.body_token or "")
    assert record.expires_at == NOW + timedelta(hours=24)
    assert await idempotency.purge_expired(session, limit=10) == 0
    with clock.frozen(NOW + timedelta(hours=24, seconds=1)):
        assert await idempotency.purge_expired(session, limit=10) == 1


async def test_a_lapsed_key_is_a_new_request(client, session) -> None:
    resident = await make_resident(session)
    await fund(session, resident.id, 100)
    await add_reward(session)
    await add_reward(session, "mug")
    tote = await client.post(REDEEM, json={"reward": "tote-bag"}, headers=keyed(resident, "t"))
    mug = await client.post(REDEEM, json={"reward": "mug"}, headers=keyed(resident, "m"))
    await client.post(f"{REDEEM}/{tote.json()['id']}/cancel", headers=keyed(resident, "c"))

    with clock.frozen(NOW + timedelta(days=2)):
        signed_in_again = await make_resident(session)  # the same resident, a fresh token
        later = await client.post(
            f"{REDEEM}/{mug.json()['id']}/cancel", headers=keyed(signed_in_again, "c")
        )

    assert later.status_code == 200, later.text
    assert (later.json()["reward"], later.json()["status"]) == ("mug", "cancelled")
    # Points and redemptions keep their own ledger keys for good: a lapsed key still cannot
    # redeem another reward (see the redemption tests).


async def test_concurrent_retries_make_one_redemption(committed_db, committed_client) -> None:
    async with committed_db.unit_of_work() as session:
        resident = await make_resident(session)
        await fund(session, resident.id, 100)
        await add_reward(session)
    headers = keyed(resident, str(uuid.uuid4()))

    answers = await asyncio.gather(
        *(
            committed_client.post(REDEEM, json={"reward": "tote-bag"}, headers=headers)
            for _ in range(6)
        )
    )

    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    async with committed_db.unit_of_work() as session:
        assert await ledger.balance(session, account=wallet(resident.id)) == 50


def test_every_route_remembers_its_answers_in_its_transaction(settings) -> None:
    app = create_app(settings)
    routes = [c.original_route for c in iter_route_contexts(app.routes)]
    api_routes = [r for r in routes if hasattr(r, "dependant")]

    assert api_routes
    assert [r.path for r in api_routes if not isinstance(r, ContractRoute)] == []
