"""TV boxes pairing over HTTP (RFC 8628): the box polls, the resident approves in the app."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import clock
from identity.device_flow import USER_CODE_ALPHABET, normalize_user_code
from identity.errors import InvalidUserCode
from identity.models import Client
from tests.api.residents import bearer, refresh, sign_in
from tests.helpers import problem_of

TV = "wujiang-tv"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = re.compile(rf"[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}")


pytestmark = pytest.mark.usefixtures("still_clock")


async def start(client, client_id=TV, **form) -> dict:
    started = await client.post(
        "/oauth2/device_authorization", data={"client_id": client_id, **form}
    )
    assert started.status_code == 200, started.text
    assert started.headers["Cache-Control"] == "no-store"
    return started.json()


async def poll(client, device: dict, client_id=TV):
    return await client.post(
        "/oauth2/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": device["device_code"],
            "client_id": client_id,
        },
    )


async def approve(client, resident: dict, code: str, *, approve: bool = True):
    return await client.post(
        f"/v1/me/device-codes/{code}", json={"approve": approve}, headers=bearer(resident)
    )


def error_of(response) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()["error"]


def later(seconds: int) -> None:
    clock.advance(timedelta(seconds=seconds))


async def test_a_tv_box_pairs_polls_politely_and_is_listed_and_unpaired(client, gateways):
    resident = await sign_in(client, gateways)
    device = await start(client)
    assert (device["expires_in"], device["interval"]) == (600, 5)

    assert error_of(await poll(client, device)) == "authorization_pending"
    assert error_of(await poll(client, device)) == "slow_down"  # at once: the interval is now 10
    later(11)
    assert error_of(await poll(client, device)) == "authorization_pending"
    later(6)  # enough under the old 5 s, too soon under 10 s: slow down again, now 15 s
    assert error_of(await poll(client, device)) == "slow_down"
    later(11)
    assert error_of(await poll(client, device)) == "slow_down"  # 11 s < 15 s; now 20 s
    later(21)
    assert error_of(await poll(client, device)) == "authorization_pending"

    typed = device["user_code"].lower().replace("-", " ")  # as a resident might type it
    shown = await client.get(f"/v1/me/device-codes/{typed}", headers=bearer(resident))
    assert shown.status_code == 200, shown.text
    assert shown.json()["client_id"] == TV
    assert shown.json()["scope"] == ["points:read"]
    assert shown.json()["user_code"] == device["user_code"]
    approved = await approve(client, resident, typed)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    later(21)
    paired = await poll(client, device)
    assert paired.status_code == 200, paired.text
    assert paired.headers["Cache-Control"] == "no-store"
    tv = paired.json()
    assert (tv["token_type"], tv["scope"]) == ("Bearer", "points:read")
    assert tv["refresh_token"]
    assert error_of(await poll(client, device)) == "invalid_grant"  # tokens are handed out once

    listed = (await client.get("/v1/me/sessions", headers=bearer(resident))).json()["items"]
    box = next(s for s in listed if s["id"] == tv["session_id"])
    assert (box["channel"], box["client_id"], box["device_name"]) == ("tv", TV, "TV box")
    # The box may not touch the account: its token lacks `profile`.
    assert (await client.get("/v1/me", headers=bearer(tv))).status_code == 403

    unpaired = await client.delete(f"/v1/me/sessions/{tv['session_id']}", headers=bearer(resident))
    assert unpaired.status_code == 204
    assert (await client.get("/v1/me", headers=bearer(tv))).status_code == 401
    assert (await refresh(client, tv, client_id=TV)).json()["error"] == "invalid_grant"


async def test_a_denied_request_answers_access_denied_and_is_decided_once(client, gateways):
    resident = await sign_in(client, gateways)
    device = await start(client)
    code = device["user_code"]

    denied = await approve(client, resident, code, approve=False)
    again = await approve(client, resident, code)
    looked_up = await client.get(f"/v1/me/device-codes/{code}", headers=bearer(resident))

    assert denied.json()["status"] == "denied"
    assert again.status_code == looked_up.status_code == 409
    assert problem_of(again)["type"].endswith("user-code-decided")
    assert error_of(await poll(client, device)) == "access_denied"


async def test_requests_expire_after_ten_minutes(client, gateways):
    device = await start(client)
    later(599)
    assert error_of(await poll(client, device)) == "authorization_pending"
    later(1)

    assert error_of(await poll(client, device)) == "expired_token"
    resident = await sign_in(client, gateways)
    assert (await approve(client, resident, device["user_code"])).status_code == 404


async def test_an_approval_not_collected_in_time_expires_too(client, gateways):
    resident = await sign_in(client, gateways)
    device = await start(client)
    await approve(client, resident, device["user_code"])
    later(600)

    assert error_of(await poll(client, device)) == "expired_token"


async def test_user_codes_are_eight_consonants_shown_with_a_dash(client, settings):
    devices = [await start(client) for _ in range(20)]

    for device in devices:
        assert USER_CODE.fullmatch(device["user_code"])
        assert device["verification_uri"] == f"{settings.issuer}/device"
        assert device["verification_uri_complete"].endswith(f"user_code={device['user_code']}")
        assert len(device["device_code"]) == 43  # 32 random bytes, base64url
    assert len({d["user_code"] for d in devices}) == len({d["device_code"] for d in devices}) == 20


async def test_unknown_and_malformed_codes(client, gateways):
    resident = await sign_in(client, gateways)
    await start(client)

    unknown = await client.get("/v1/me/device-codes/BBBB-BBBB", headers=bearer(resident))
    vowels = await client.get("/v1/me/device-codes/ABCD-EFGH", headers=bearer(resident))
    anonymous = await client.get("/v1/me/device-codes/BBBB-BBBB")

    assert unknown.status_code == 404
    assert problem_of(unknown)["type"].endswith("user-code-not-found")
    assert vowels.status_code == 422
    assert problem_of(vowels)["type"].endswith("invalid-user-code")
    assert anonymous.status_code == 401


async def test_guessing_codes_is_rate_limited_per_resident(client, gateways):
    resident = await sign_in(client, gateways)
    device = await start(client)

    for guess in range(10):
        code = f"BBBB-BBB{USER_CODE_ALPHABET[guess]}"
        answer = await client.get(f"/v1/me/device-codes/{code}", headers=bearer(resident))
        assert answer.status_code == 404 or code == device["user_code"]
    limited = await approve(client, resident, device["user_code"])

    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 300
    later(301)
    allowed = await approve(client, resident, device["user_code"])
    assert allowed.status_code == 200


async def test_the_box_must_be_a_known_client_asking_for_allowed_scopes(client):
    unknown = await client.post("/oauth2/device_authorization", data={"client_id": "nobody"})
    too_much = await client.post(
        "/oauth2/device_authorization", data={"client_id": TV, "scope": "profile"}
    )
    missing = await client.post("/oauth2/device_authorization", data={"scope": "points:read"})

    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    assert error_of(too_much) == "invalid_scope"
    assert error_of(missing) == "invalid_request"


async def test_a_registered_public_client_may_use_the_device_grant(client, session, gateways):
    now = clock.now()
    for client_id, method in [("partner-tv", "none"), ("partner-web", "client_secret_basic")]:
        session.add(
            Client(
                client_id=client_id,
                name="Partner TV",
                redirect_uris=[],
                post_logout_redirect_uris=[],
                allowed_scopes="openid phone",
                auth_method=method,
                created_at=now,
            )
        )
    await session.flush()
    resident = await sign_in(client, gateways)

    device = await start(client, client_id="partner-tv", scope="openid")
    confidential = await client.post(
        "/oauth2/device_authorization", data={"client_id": "partner-web"}
    )
    shown = await client.get(f"/v1/me/device-codes/{device['user_code']}", headers=bearer(resident))

    assert shown.json()["client_name"] == "Partner TV"
    assert shown.json()["scope"] == ["openid"]
    assert confidential.json()["error"] == "invalid_client"


async def test_a_device_code_works_only_for_its_own_client(client, gateways):
    resident = await sign_in(client, gateways)
    device = await start(client)
    await approve(client, resident, device["user_code"])

    stolen = await poll(client, device, client_id="wujiang-app")
    forged = await poll(client, {"device_code": "x" * 43})
    missing = await client.post("/oauth2/token", data={"grant_type": DEVICE_GRANT})

    assert error_of(stolen) == error_of(forged) == "invalid_grant"
    assert error_of(missing) == "invalid_request"
    assert (await poll(client, device)).status_code == 200  # the rightful box still gets in


async def test_racing_polls_and_decisions_each_have_one_winner(committed_client, gateways):
    client = committed_client  # each request its own transaction, truly concurrent
    resident = await sign_in(client, gateways)
    device = await start(client)

    decisions = await asyncio.gather(
        *(approve(client, resident, device["user_code"], approve=i % 2 == 0) for i in range(4))
    )
    later(5)
    polls = await asyncio.gather(*(poll(client, device) for _ in range(4)))

    assert sorted(d.status_code for d in decisions) == [200, 409, 409, 409]
    winner = next(d for d in decisions if d.status_code == 200).json()["status"]
    if winner == "approved":
        assert sorted(p.status_code for p in polls) == [200, 400, 400, 400]
        assert {p.json().get("error") for p in polls} == {None, "invalid_grant"}
    else:
        assert {error_of(p) for p in polls} == {"access_denied"}


async def test_device_codes_are_stored_only_as_hashes(client, redis):
    device = await start(client)

    keys = [key async for key in redis.scan_iter("device:*")]
    values = [
        str(await redis.hgetall(k) if k.startswith("device:dc:") else await redis.get(k))
        for k in keys
    ]

    assert len(keys) == 2
    assert not any(device["device_code"] in text for text in [*keys, *values])
    compact = device["user_code"].replace("-", "")
    assert not any(compact in text for text in keys)


# --- user-code normalisation ------------------------------------------------------------------

codes = st.text(alphabet=USER_CODE_ALPHABET, min_size=8, max_size=8)
separators = st.sampled_from(["", "", "-", " ", "  ", "- "])
outsiders = st.characters().filter(
    lambda c: c not in "- " and not (c.isascii() and c.upper() in USER_CODE_ALPHABET)
)


@given(code=codes, data=st.data())
def test_valid_codes_normalise_in_any_case_with_separators(code, data):
    typed = "".join(
        data.draw(separators) + data.draw(st.sampled_from([letter, letter.lower()]))
        for letter in code
    ) + data.draw(separators)

    assert normalize_user_code(typed) == code


@given(code=codes, position=st.integers(0, 7), outsider=outsiders, typed_lower=st.booleans())
def test_any_character_outside_the_alphabet_is_refused(code, position, outsider, typed_lower):
    text = code[:position] + outsider + code[position + 1 :]
    with pytest.raises(InvalidUserCode):
        normalize_user_code(text.lower() if typed_lower else text)
    with pytest.raises(InvalidUserCode):
        normalize_user_code(code[:position] + outsider + code[position:])  # inserted, not swapped


@given(text=st.text(alphabet=USER_CODE_ALPHABET + "-", max_size=20))
def test_only_exactly_eight_letters_make_a_code(text):
    letters = text.replace("-", "")
    if len(letters) == 8:
        assert normalize_user_code(text) == letters
    else:
        with pytest.raises(InvalidUserCode):
            normalize_user_code(text)


@pytest.mark.parametrize(
    "text", ["BCDFGHJſ", "BCDFGHJK\n", "BCDF_GHJK", "ＢＣＤＦＧＨＪＫ", "BCDFGHJA"]
)
def test_look_alikes_are_not_letters_of_the_alphabet(text):
    with pytest.raises(InvalidUserCode):  # "ſ".upper() is "S", full-width letters are not ASCII
        normalize_user_code(text)


@pytest.mark.parametrize(
    ("query", "shown"),
    [("?user_code=bcdf ghjk", "BCDF-GHJK"), ("", None), ("?user_code=<script>", None)],
)
async def test_the_verification_uri_hands_over_to_the_app(client, query, shown):
    page = await client.get("/device" + query)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text
    assert "<script>" not in page.text
    if shown:
        assert shown in page.text
