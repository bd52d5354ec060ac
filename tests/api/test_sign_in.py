"""Residents signing in over HTTP: SMS codes, tokens, refresh rotation, sessions, real name."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from core import clock
from tests.api.residents import PHONE, bearer, last_code, refresh, sign_in
from tests.helpers import problem_of
from tests.identity.factories import make_id_number

VERIFY_URL = "https://verify.gateway.test/check"
pytestmark = pytest.mark.usefixtures("still_clock")


async def test_sign_up_with_an_sms_code_and_read_the_masked_profile(client, gateways, session):
    tokens = await sign_in(client, gateways, phone="+86 138-1234-5678")

    me = await client.get("/v1/me", headers=bearer(tokens))

    assert me.status_code == 200
    assert me.json()["phone"] == "138****5678"
    assert me.json()["assurance"] == "phone"
    stored = (await session.execute(text("SELECT phone_token FROM identity_resident"))).scalar()
    assert PHONE not in stored  # encrypted at rest
    again = await sign_in(client, gateways)  # the same number signs in to the same resident
    assert (await client.get("/v1/me", headers=bearer(again))).json()["id"] == me.json()["id"]


async def test_a_code_works_once_and_wrong_codes_are_refused(client, gateways):
    await client.post("/v1/auth/sms-codes", json={"phone": PHONE})
    code = last_code(gateways)
    wrong = "000000" if code != "000000" else "111111"

    refused = await client.post("/v1/auth/sessions/sms", json={"phone": PHONE, "code": wrong})
    accepted = await client.post("/v1/auth/sessions/sms", json={"phone": PHONE, "code": code})
    replayed = await client.post("/v1/auth/sessions/sms", json={"phone": PHONE, "code": code})

    assert refused.status_code == 400
    assert problem_of(refused)["type"].endswith("otp-wrong")
    assert accepted.status_code == 201
    assert replayed.status_code in (400, 422)


async def test_codes_cannot_be_resent_within_a_minute(client, gateways):
    first = await client.post("/v1/auth/sms-codes", json={"phone": PHONE})
    second = await client.post("/v1/auth/sms-codes", json={"phone": PHONE})

    assert first.status_code == 202
    assert second.status_code == 429
    assert 0 < int(second.headers["Retry-After"]) <= 60


async def test_bad_phone_numbers_are_refused(client, gateways):
    for phone in ["12345", "23812345678", "１３８１２３４５６７８", "+1 415 555 0100"]:
        response = await client.post("/v1/auth/sms-codes", json={"phone": phone})
        assert response.status_code == 422
        assert problem_of(response)["type"].endswith("invalid-phone")
        assert phone not in response.text


async def test_refresh_rotates_and_reuse_ends_the_session(client, gateways, settings):
    first = await sign_in(client, gateways)
    rotated = await refresh(client, first)
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert rotated.headers["Cache-Control"] == "no-store"

    with clock.frozen(clock.now() + timedelta(seconds=30)):
        reused = await refresh(client, first)  # a thief replays the old token

        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
        assert (await refresh(client, second)).status_code == 400  # the family is gone
        assert (await client.get("/v1/me", headers=bearer(second))).status_code == 401


async def test_two_refreshes_at_once_one_wins_and_the_session_lives(committed_client, gateways):
    client = committed_client  # each request its own transaction, truly concurrent
    tokens = await sign_in(client, gateways)

    answers = await asyncio.gather(*(refresh(client, tokens) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    assert {a.json().get("error") for a in answers if a.status_code == 400} == {"invalid_grant"}
    winner = next(a for a in answers if a.status_code == 200).json()
    assert (await client.get("/v1/me", headers=bearer(winner))).status_code == 200
    assert (await refresh(client, winner)).status_code == 200


async def test_oauth_errors_keep_the_rfc_6749_body(client):
    unsupported = await client.post(
        "/oauth2/token", data={"grant_type": "password", "client_id": "wujiang-app"}
    )
    missing = await client.post("/oauth2/token", data={"client_id": "wujiang-app"})
    unknown = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "nope", "client_id": "wujiang-app"},
    )
    stranger = await client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "nope", "client_id": "x"},
    )

    assert (unsupported.status_code, unsupported.json()["error"]) == (400, "unsupported_grant_type")
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    assert (stranger.status_code, stranger.json()["error"]) == (401, "invalid_client")


async def test_sessions_are_listed_and_revoked_one_by_one_or_everywhere(client, gateways):
    phone = await sign_in(client, gateways, device="phone")
    tablet = await sign_in(client, gateways, device="tablet")

    listed = (await client.get("/v1/me/sessions", headers=bearer(phone))).json()["items"]
    assert {s["device_name"] for s in listed} == {"phone", "tablet"}

    ended = await client.delete(f"/v1/me/sessions/{tablet['session_id']}", headers=bearer(phone))
    assert ended.status_code == 204
    assert (await client.get("/v1/me", headers=bearer(tablet))).status_code == 401
    assert (await refresh(client, tablet)).status_code == 400

    out = await client.post("/v1/me/sessions/revoke-all", headers=bearer(phone))
    assert out.json() == {"sessions_ended": 1}
    assert (await client.get("/v1/me", headers=bearer(phone))).status_code == 401


async def test_a_resident_cannot_end_another_residents_session(client, gateways):
    mine = await sign_in(client, gateways, phone="13800000001")
    theirs = await sign_in(client, gateways, phone="13900000002")

    attempt = await client.delete(f"/v1/me/sessions/{theirs['session_id']}", headers=bearer(mine))

    assert attempt.status_code == 404
    assert (await client.get("/v1/me", headers=bearer(theirs))).status_code == 200


async def test_requests_without_a_valid_token_are_refused(client):
    missing = await client.get("/v1/me")
    garbage = await client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})

    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert garbage.status_code == 401


async def test_real_name_verification_raises_assurance_and_masks_the_number(client, gateways):
    tokens = await sign_in(client, gateways)
    number = make_id_number(region="320584")

    verified = await client.post(
        "/v1/me/real-name", json={"name": "张三", "id_number": number}, headers=bearer(tokens)
    )

    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["method"] == "format-only"
    assert body["profile"]["assurance"] == "real_name"
    assert body["profile"]["name"] == "张*"
    assert body["profile"]["id_number"] == number[:4] + "*" * 10 + number[-4:]
    assert number not in verified.text


async def test_one_id_number_belongs_to_one_resident(client, gateways):
    number = make_id_number()
    first = await sign_in(client, gateways, phone="13800000001")
    second = await sign_in(client, gateways, phone="13900000002")
    body = {"name": "李四", "id_number": number}

    assert (
        await client.post("/v1/me/real-name", json=body, headers=bearer(first))
    ).status_code == 200
    taken = await client.post("/v1/me/real-name", json=body, headers=bearer(second))

    assert taken.status_code == 409
    assert problem_of(taken)["type"].endswith("id-number-taken")


async def test_invalid_id_numbers_are_refused_without_echoing_them(client, gateways):
    tokens = await sign_in(client, gateways)
    bad = make_id_number()[:-1] + ("0" if make_id_number()[-1] != "0" else "1")

    refused = await client.post(
        "/v1/me/real-name", json={"name": "王五", "id_number": bad}, headers=bearer(tokens)
    )

    assert refused.status_code == 422
    assert problem_of(refused)["reason"] == "check-character"
    assert bad not in refused.text


@pytest.mark.parametrize(
    ("answer", "status", "kind"),
    [
        (httpx.Response(200, json={"match": False}), 422, "real-name-mismatch"),
        (httpx.Response(500), 503, "verification-unavailable"),
    ],
)
async def test_the_verification_service_decides_when_configured(
    client, gateways, settings, monkeypatch, answer, status, kind
):
    monkeypatch.setattr(settings, "verification_url", VERIFY_URL)
    route = gateways.post(VERIFY_URL).mock(return_value=answer)
    tokens = await sign_in(client, gateways)

    response = await client.post(
        "/v1/me/real-name",
        json={"name": "赵六", "id_number": make_id_number()},
        headers=bearer(tokens),
    )

    assert route.called
    assert response.status_code == status
    assert problem_of(response)["type"].endswith(kind)


async def test_password_sign_in(client, gateways):
    tokens = await sign_in(client, gateways)
    weak = await client.put(
        "/v1/me/password", json={"password": "12345678"}, headers=bearer(tokens)
    )
    assert weak.status_code == 422
    ok = await client.put(
        "/v1/me/password", json={"password": "green-wujiang-2026"}, headers=bearer(tokens)
    )
    assert ok.status_code == 204

    good = await client.post(
        "/v1/auth/sessions/password", json={"phone": PHONE, "password": "green-wujiang-2026"}
    )
    wrong = await client.post(
        "/v1/auth/sessions/password", json={"phone": PHONE, "password": "not-the-password"}
    )
    nobody = await client.post(
        "/v1/auth/sessions/password", json={"phone": "13999999999", "password": "whatever-1"}
    )

    assert good.status_code == 201
    assert wrong.status_code == nobody.status_code == 401
    assert problem_of(wrong)["type"] == problem_of(nobody)["type"]


async def test_phone_numbers_and_codes_never_reach_the_logs(client, gateways, capsys):
    await sign_in(client, gateways)
    captured = capsys.readouterr()
    assert PHONE not in captured.out + captured.err
    assert last_code(gateways) not in captured.out + captured.err
