"""Staff over HTTP: sign-in with password and TOTP, role claims, the community check, and
the wall between staff and resident tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from core import clock
from identity import sessions, staff, totp
from tests.helpers import problem_of

NOW = datetime(2026, 3, 1, 8, 0, 10, tzinfo=UTC)
PASSWORD = "counter-wujiang-2026"


@pytest.fixture(autouse=True)
def frozen(redis) -> Iterator[None]:  # `redis`: flushed after each test, so limits start afresh
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def secret(session) -> str:
    """li.wei: awarder in songling, approver district-wide."""
    _, secret = await staff.create(
        session,
        username="li.wei",
        display_name="李伟",
        password=PASSWORD,
        grants=[("awarder", "songling"), ("approver", "*")],
    )
    return secret


async def staff_sign_in(client, secret: str, **overrides) -> httpx.Response:
    body = {
        "username": "li.wei",
        "password": PASSWORD,
        "totp_code": totp.code_at(secret, totp.step_at(clock.now())),
        "device_name": "counter PC",
        **overrides,
    }
    return await client.post("/v1/staff/sessions", json=body)


async def signed_in(client, secret: str) -> dict:
    response = await staff_sign_in(client, secret)
    assert response.status_code == 201, response.text
    clock.advance(timedelta(seconds=30))  # the next sign-in needs the next code
    return response.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def claims_of(tokens: dict) -> dict:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


async def check(client, tokens: dict, community: str, role: str) -> httpx.Response:
    return await client.get(
        f"/v1/staff/communities/{community}/check", params={"role": role}, headers=bearer(tokens)
    )


async def test_sign_in_gives_a_staff_token_carrying_the_roles(client, secret) -> None:
    tokens = await signed_in(client, secret)

    claims = claims_of(tokens)
    assert claims["acr"] == "staff-mfa"
    assert claims["channel"] == "staff"
    assert claims["scope"] == "staff"
    assert claims["client_id"] == "wujiang-staff"
    assert sorted(claims["roles"], key=lambda g: g["role"]) == [
        {"role": "approver", "community": "*"},
        {"role": "awarder", "community": "songling"},
    ]
    me = await client.get("/v1/staff/me", headers=bearer(tokens))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "li.wei"
    assert me.json()["display_name"] == "李伟"
    assert len(me.json()["grants"]) == 2


async def test_wrong_password_code_or_replay_are_one_refusal(client, secret) -> None:
    used = await staff_sign_in(client, secret)
    replay = await staff_sign_in(client, secret)
    wrong_password = await staff_sign_in(client, secret, password="not-the-password")
    wrong_code = await staff_sign_in(client, secret, totp_code="12345")
    nobody = await staff_sign_in(client, secret, username="nobody")

    assert used.status_code == 201
    for refused in [replay, wrong_password, wrong_code, nobody]:
        assert refused.status_code == 401
        assert problem_of(refused)["type"].endswith("invalid-credentials")
        assert problem_of(refused)["detail"] == problem_of(replay)["detail"]


async def test_sign_in_is_rate_limited_per_username(client, secret) -> None:
    for _ in range(10):
        refused = await staff_sign_in(client, secret, password="not-the-password")
        assert refused.status_code == 401
    limited = await staff_sign_in(client, secret)

    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("community", "role", "status"),
    [
        ("songling", "awarder", 200),
        ("pingwang", "awarder", 403),
        ("pingwang", "approver", 200),  # approver:* holds everywhere
        ("songling", "merchant_cashier", 403),
        ("songling", "admin", 403),
    ],
)
async def test_the_community_check(client, secret, community, role, status) -> None:
    tokens = await signed_in(client, secret)

    response = await check(client, tokens, community, role)

    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == {"allowed": True, "role": role, "community": community}
    else:
        assert problem_of(response)["type"].endswith("insufficient-role")


async def test_admin_implies_no_other_role(client, session) -> None:
    _, secret = await staff.create(
        session, username="ops", display_name="运维", password=PASSWORD, grants=[("admin", "*")]
    )
    response = await staff_sign_in(client, secret, username="ops")
    assert response.status_code == 201, response.text
    tokens = response.json()

    assert (await check(client, tokens, "songling", "admin")).status_code == 200
    assert (await check(client, tokens, "songling", "awarder")).status_code == 403


async def test_a_resident_token_never_passes_a_staff_check(client, session) -> None:
    resident = await sessions.start(
        session,
        subject_type="resident",
        subject="0190a0a0-0000-7000-8000-000000000001",
        client_id="wujiang-app",
        channel="app",
        assurance="in_person",
        scope="profile sessions",
    )
    resident_tokens = resident.model_dump(mode="json")

    me = await client.get("/v1/staff/me", headers=bearer(resident_tokens))
    checked = await check(client, resident_tokens, "songling", "awarder")
    anonymous = await client.get("/v1/staff/me")

    assert me.status_code == checked.status_code == 403
    assert problem_of(me)["type"].endswith("insufficient-role")
    assert anonymous.status_code == 401


async def test_a_staff_token_never_passes_as_a_resident(client, secret) -> None:
    tokens = await signed_in(client, secret)

    response = await client.get("/v1/me", headers=bearer(tokens))

    assert response.status_code == 403
    assert problem_of(response)["type"].endswith("insufficient-scope")


async def test_a_revoked_grant_disappears_at_the_next_refresh(client, session, secret) -> None:
    tokens = await signed_in(client, secret)
    await staff.revoke_grant(session, username="li.wei", role="awarder", community="songling")

    refreshed = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "wujiang-staff",
        },
    )

    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert claims_of(new)["roles"] == [{"role": "approver", "community": "*"}]
    assert (await check(client, new, "songling", "awarder")).status_code == 403
    assert (await check(client, new, "songling", "approver")).status_code == 200


async def test_disabling_ends_the_staff_members_sessions(client, session, redis, secret) -> None:
    tokens = await signed_in(client, secret)

    ended = await staff.disable(session, redis, username="li.wei")
    refreshed = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "wujiang-staff",
        },
    )

    assert ended == 1
    assert (await client.get("/v1/staff/me", headers=bearer(tokens))).status_code == 401
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
    assert (await staff_sign_in(client, secret)).status_code == 401


async def test_unknown_roles_and_bad_community_codes_are_422(client, secret) -> None:
    tokens = await signed_in(client, secret)

    assert (await check(client, tokens, "songling", "boss")).status_code == 422
    assert (await check(client, tokens, "Song_Ling", "awarder")).status_code == 422
