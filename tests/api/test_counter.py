"""At the service counter: a clerk finds a resident and, having seen the ID card, raises the
resident's assurance to in_person (L3). Only counter clerks may."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import clock
from identity import staff, totp
from tests.api.residents import bearer, sign_in
from tests.helpers import problem_of
from tests.identity.factories import make_id_number

pytestmark = pytest.mark.usefixtures("still_clock")
PASSWORD = "counter-wujiang-2026"


async def staff_tokens(client, session, username: str, role: str) -> dict:
    _, secret = await staff.create(
        session,
        username=username,
        display_name="窗口",
        password=PASSWORD,
        grants=[(role, "songling")],
    )
    signed = await client.post(
        "/v1/staff/sessions",
        json={
            "username": username,
            "password": PASSWORD,
            "totp_code": totp.code_at(secret, totp.step_at(clock.now())),
        },
    )
    assert signed.status_code == 201, signed.text
    clock.advance(timedelta(seconds=30))
    return signed.json()


@pytest.fixture
async def clerk(client, session) -> dict:
    return await staff_tokens(client, session, "wang.clerk", "counter_clerk")


async def test_a_clerk_finds_a_resident_and_verifies_them_in_person(client, gateways, clerk):
    resident = await sign_in(client, gateways)
    number = make_id_number()

    found = await client.post(
        "/v1/staff/residents/lookup", json={"phone": "13812345678"}, headers=bearer(clerk)
    )
    assert found.status_code == 200
    assert found.json()["phone"] == "138****5678"
    verified = await client.post(
        f"/v1/staff/residents/{found.json()['id']}/in-person",
        json={"name": "张三", "id_number": number},
        headers=bearer(clerk),
    )

    assert verified.status_code == 200, verified.text
    assert verified.json()["assurance"] == "in_person"
    assert number not in verified.text
    by_number = await client.post(
        "/v1/staff/residents/lookup", json={"id_number": number}, headers=bearer(clerk)
    )
    assert by_number.json()["id"] == found.json()["id"]
    me = await client.get("/v1/me", headers=bearer(resident))
    assert me.json()["assurance"] == "in_person"


async def test_the_card_must_match_the_identity_already_bound(client, gateways, clerk):
    resident = await sign_in(client, gateways)
    bound = make_id_number(sequence=1)
    await client.post(
        "/v1/me/real-name", json={"name": "张三", "id_number": bound}, headers=bearer(resident)
    )
    profile = (await client.get("/v1/me", headers=bearer(resident))).json()

    other_card = await client.post(
        f"/v1/staff/residents/{profile['id']}/in-person",
        json={"name": "张三", "id_number": make_id_number(sequence=2)},
        headers=bearer(clerk),
    )

    assert other_card.status_code == 422
    assert problem_of(other_card)["type"].endswith("real-name-mismatch")


async def test_only_counter_clerks_may(client, session, gateways):
    resident = await sign_in(client, gateways)
    awarder = await staff_tokens(client, session, "zhao.awarder", "awarder")

    for tokens, status in [(awarder, 403), (resident, 403)]:
        response = await client.post(
            "/v1/staff/residents/lookup", json={"phone": "13812345678"}, headers=bearer(tokens)
        )
        assert response.status_code == status
    anonymous = await client.post("/v1/staff/residents/lookup", json={"phone": "13812345678"})
    assert anonymous.status_code == 401


async def test_unknown_residents_are_not_found(client, clerk):
    missing = await client.post(
        "/v1/staff/residents/lookup", json={"phone": "13999999999"}, headers=bearer(clerk)
    )
    assert missing.status_code == 404
