"""The 12345 hotline over HTTP, every request signed: the agent's masked view of a caller, the
IVR (card last four + PIN, then balance, latest award, expiring points and report-lost as
ready-to-speak text, refusals spoken too), and tickets filed, moved along, rated and listed.

Refusals covered: unsigned requests on every route, a wrong PIN (counted), the lock after five,
a lost card, an unknown number or card ending, an expired or forged IVR session, too many
tries, another resident's data, invalid ticket transitions and ratings."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import citizen_card
import notifications
from channels.hotline import ivr
from core import clock
from core.redis import get_redis
from identity import check_character, residents
from identity.models import Activity
from tests.channels.test_hotline_signing import KEYS, refused, signed
from tests.points.factories import make_award

# 2026-11-25 10:00 in Wujiang (UTC+8).
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
PHONE, OTHER_PHONE = "13812345678", "13987654321"
PIN, OTHER_PIN = "258036", "604182"
CARD, OTHER_CARD = "3205 0100 2000 1234", "3205 0100 2000 5678"
EXPIRY = datetime(2027, 12, 31, 16, 0, tzinfo=UTC)  # 2028-01-01 00:00 local: last day 12-31


@pytest.fixture(autouse=True)
def hotline(settings, monkeypatch, redis):  # `redis`: nonces and IVR sessions flushed after
    monkeypatch.setattr(settings, "hotline_keys", SecretStr(KEYS))
    with clock.frozen(MORNING):
        yield


def id_number(sequence: int) -> str:
    first17 = f"32058419900307{sequence:03d}"
    return first17 + check_character(first17)


async def caller_with_card(
    session: AsyncSession,
    *,
    phone: str = PHONE,
    number: str = CARD,
    chip: str = "04A1B2C3",
    pin: str = PIN,
    sequence: int = 1,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A resident verified in person (张三丰), with an active card and its PIN: (resident, card)."""
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    await residents.verify_in_person(
        session, resident_id=resident.id, name="张三丰", id_number=id_number(sequence)
    )
    card = await citizen_card.issue(
        session,
        resident_id=resident.id,
        number=number,
        chip_uid=chip,
        actor="staff:test-clerk",
        channel="counter",
    )
    await citizen_card.set_pin(session, resident_id=resident.id, pin=pin)
    return resident.id, card.id


async def verify(
    client: httpx.AsyncClient, *, phone: str = PHONE, last4: str = "1234", pin: str = PIN
) -> httpx.Response:
    return await signed(
        client,
        "POST",
        "/v1/hotline/ivr/verify",
        {"caller_number": phone, "card_last4": last4, "pin": pin},
    )


async def ivr_session(client: httpx.AsyncClient, **options: Any) -> str:
    response = await verify(client, **options)
    assert response.status_code == 200, response.text
    return str(response.json()["ivr_session"])


async def ask(client: httpx.AsyncClient, what: str, token: str) -> httpx.Response:
    method = "POST" if what == "report-lost" else "GET"
    return await signed(client, method, f"/v1/hotline/ivr/{what}", headers={"X-IVR-Session": token})


async def trail(session: AsyncSession, resident_id: uuid.UUID) -> list[tuple[str, str, str]]:
    rows = await session.scalars(
        select(Activity).where(Activity.resident_id == resident_id).order_by(Activity.id)
    )
    return [(row.channel, row.action, row.device or "") for row in rows]


# --- every route is signed -----------------------------------------------------------------------

ROUTES = [
    ("POST", "/v1/hotline/calls"),
    ("POST", "/v1/hotline/ivr/verify"),
    ("GET", "/v1/hotline/ivr/balance"),
    ("GET", "/v1/hotline/ivr/latest-award"),
    ("GET", "/v1/hotline/ivr/expiring"),
    ("POST", "/v1/hotline/ivr/report-lost"),
    ("POST", "/v1/hotline/tickets"),
    ("GET", "/v1/hotline/tickets/WJ20261125-000001"),
    ("POST", "/v1/hotline/tickets/WJ20261125-000001/status"),
    ("POST", "/v1/hotline/tickets/WJ20261125-000001/rating"),
]


def test_every_hotline_route_is_listed_here(app) -> None:
    paths = {path for path in app.openapi()["paths"] if path.startswith("/v1/hotline")}
    assert paths == {path.replace("WJ20261125-000001", "{number}") for _, path in ROUTES}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_hotline_route_refuses_an_unsigned_request(client, method, path) -> None:
    response = await client.request(method, path, json={}, headers={"X-IVR-Session": "x"})

    refused(response, 401, "hotline-signature-invalid")


# --- incoming calls ------------------------------------------------------------------------------


async def test_the_agent_sees_the_caller_masked_with_balance_and_open_tickets(
    client, session
) -> None:
    resident_id, _ = await caller_with_card(session)
    await make_award(session, resident_id, behaviour="tree-planting", points_=10)
    filed = await signed(
        client,
        "POST",
        "/v1/hotline/tickets",
        {
            "caller_number": PHONE,
            "kind": "complaint",
            "subject": "楼道灯不亮",
            "body": "3号楼2单元楼道灯坏了一周。",
            "agent": "A1023",
        },
    )
    assert filed.status_code == 201, filed.text

    response = await signed(
        client,
        "POST",
        "/v1/hotline/calls",
        {"caller_number": "+86 138 1234 5678", "agent": "A1023"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "found": True,
        "resident_id": str(resident_id),
        "name": "张**",
        "id_number": "3205**********" + id_number(1)[-4:],
        "phone": "138****5678",
        "assurance": "in_person",
        "points_balance": 10,
        "open_tickets": [
            {
                "number": "WJ20261125-000001",
                "kind": "complaint",
                "status": "open",
                "created_at": "2026-11-25T02:00:00Z",
            }
        ],
    }
    assert PHONE not in response.text
    assert id_number(1) not in response.text
    assert ("hotline", "hotline.lookup", "A1023") in await trail(session, resident_id)


@pytest.mark.parametrize(
    "number", ["13900009999", "0512-63456789", "12345", "１３８１２３４５６７８"]
)
async def test_an_unknown_or_landline_caller_is_not_found(client, session, number) -> None:
    await caller_with_card(session)

    response = await signed(client, "POST", "/v1/hotline/calls", {"caller_number": number})

    assert response.status_code == 200, response.text
    assert response.json() == {"found": False}


async def test_a_lookup_without_an_agent_is_recorded_as_the_call_centre(client, session) -> None:
    resident_id, _ = await caller_with_card(session)

    response = await signed(client, "POST", "/v1/hotline/calls", {"caller_number": PHONE})

    assert response.json()["found"] is True
    assert await trail(session, resident_id) == [("hotline", "hotline.lookup", "call-centre")]


# --- IVR: verification ---------------------------------------------------------------------------


async def test_the_right_pin_opens_an_ivr_session(client, session) -> None:
    resident_id, card_id = await caller_with_card(session)

    response = await verify(client)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["speech"] == "验证成功。"
    assert body["expires_at"] == "2026-11-25T02:05:00Z"
    assert len(body["ivr_session"]) >= 40
    assert ("hotline", "hotline.ivr_verified", "ivr") in await trail(session, resident_id)
    # Only a hash of the token is kept in Redis.
    live = await ivr.use(get_redis(), token=body["ivr_session"])
    assert (live.resident_id, live.card_id) == (resident_id, card_id)


async def test_a_wrong_pin_is_refused_with_speech_and_counted(client, session) -> None:
    await caller_with_card(session)

    first = await verify(client, pin="111111")
    second = await verify(client, pin="2580")

    problem = refused(first, 401, "wrong-pin")
    assert problem["speech"] == "密码错误，您还可以尝试4次。"
    assert problem["attempts_left"] == 4
    assert refused(second, 401, "wrong-pin")["speech"] == "密码错误，您还可以尝试3次。"
    assert PIN not in first.text


async def test_five_wrong_pins_lock_the_card_even_for_the_right_one(client, session) -> None:
    await caller_with_card(session)

    answers = [await verify(client, pin="111111") for _ in range(5)]
    right = await verify(client)

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
    assert refused(answers[3], 401, "wrong-pin")["speech"] == "密码错误，您还可以尝试1次。"
    locked = refused(answers[4], 423, "card-locked")
    assert locked["speech"] == (
        "密码错误次数过多，您的市民卡已被锁定，请24小时后再试，或携带身份证到市民卡服务网点解锁。"
    )
    assert answers[4].headers["retry-after"] == str(24 * 3600)
    assert refused(right, 423, "card-locked")["speech"] == locked["speech"]


@pytest.mark.parametrize(
    "caller",
    [
        {"last4": "4321"},  # not the card's ending
        {"phone": "13900009999"},  # nobody's number
        {"phone": "0512-63456789"},  # a landline
        {"phone": OTHER_PHONE},  # another resident, whose card ends otherwise
    ],
)
async def test_an_unknown_number_or_card_ending_is_refused_alike(client, session, caller) -> None:
    await caller_with_card(session)
    await caller_with_card(
        session, phone=OTHER_PHONE, number=OTHER_CARD, chip="04D4E5F6", pin=OTHER_PIN, sequence=2
    )

    response = await verify(client, **caller)

    problem = refused(response, 401, "ivr-verification-failed")
    assert problem["speech"] == "验证未通过，请核对市民卡卡号后四位后重新输入。"


async def test_a_lost_card_is_refused(client, session) -> None:
    resident_id, _ = await caller_with_card(session)
    await citizen_card.report_lost(session, resident_id=resident_id, actor="app", channel="app")

    response = await verify(client)

    refused(response, 401, "ivr-verification-failed")


async def test_too_many_tries_from_one_number_are_refused_with_speech(client, session) -> None:
    await caller_with_card(session)

    answers = [await verify(client, last4=f"{n:04d}") for n in range(10)]
    eleventh = await verify(client)

    assert {a.status_code for a in answers} == {401}
    problem = refused(eleventh, 429, "rate-limited")
    assert problem["speech"] == "尝试次数过多，请稍后再拨打。"
    assert "retry-after" in eleventh.headers


async def test_a_card_without_a_pin_is_refused_with_speech(client, session) -> None:
    resident, _ = await residents.find_or_create_by_phone(session, phone=PHONE)
    await citizen_card.issue(
        session,
        resident_id=resident.id,
        number=CARD,
        chip_uid="04A1B2C3",
        actor="staff:test-clerk",
        channel="counter",
    )

    response = await verify(client)

    problem = refused(response, 409, "pin-not-set")
    assert (
        problem["speech"] == "您的市民卡尚未设置密码，请在智慧吴江App或市民卡服务网点设置后再试。"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"caller_number": PHONE, "card_last4": "123", "pin": PIN},
        {"caller_number": PHONE, "card_last4": "12345", "pin": PIN},
        {"caller_number": PHONE, "card_last4": "１２３４", "pin": PIN},
        {"caller_number": PHONE, "card_last4": "1234", "pin": "25803#"},
        {"caller_number": PHONE, "card_last4": "1234"},
    ],
)
async def test_malformed_keypad_input_is_a_validation_error(client, session, body) -> None:
    await caller_with_card(session)

    response = await signed(client, "POST", "/v1/hotline/ivr/verify", body)

    refused(response, 422, "validation-error")


# --- IVR: what the caller hears ------------------------------------------------------------------


async def test_the_balance_latest_award_and_expiring_points_are_spoken(client, session) -> None:
    resident_id, _ = await caller_with_card(session)
    await make_award(session, resident_id, behaviour="garbage-sorting", points_=1270)
    clock.advance(timedelta(hours=3))
    await make_award(session, resident_id, behaviour="tree-planting", points_=10)
    token = await ivr_session(client)

    balance = await ask(client, "balance", token)
    latest = await ask(client, "latest-award", token)
    expiring = await ask(client, "expiring", token)

    assert balance.json() == {"speech": "您的积分余额为1280分。"}
    assert latest.json() == {
        "speech": "您最近一次获得积分是在2026年11月25日，因「义务植树」获得10分。"
    }
    assert expiring.json() == {"speech": "您近30天内没有即将到期的积分。"}
    actions = [action for _, action, _ in await trail(session, resident_id)]
    assert actions[-3:] == ["points.balance", "points.latest_award", "points.expiring"]


async def test_points_about_to_expire_are_spoken_with_their_last_day(client, session) -> None:
    resident_id, _ = await caller_with_card(session)
    await make_award(session, resident_id, behaviour="tree-planting", points_=10)
    await make_award(
        session,
        resident_id,
        behaviour="garbage-sorting",
        points_=110,
        expires_at=EXPIRY + timedelta(days=5),
    )

    with clock.frozen(datetime(2027, 12, 10, 2, 0, tzinfo=UTC)):
        token = await ivr_session(client)
        expiring = await ask(client, "expiring", token)

    assert expiring.json() == {
        "speech": "您有120分将在30天内到期，最早到期日为2027年12月31日，请尽快兑换使用。"
    }


async def test_a_resident_without_awards_hears_so(client, session) -> None:
    await caller_with_card(session)
    token = await ivr_session(client)

    balance = await ask(client, "balance", token)
    latest = await ask(client, "latest-award", token)

    assert balance.json() == {"speech": "您的积分余额为0分。"}
    assert latest.json() == {"speech": "您目前还没有获得过积分。"}


async def test_each_session_reaches_only_its_own_residents_data(client, session) -> None:
    mine, _ = await caller_with_card(session)
    theirs, _ = await caller_with_card(
        session, phone=OTHER_PHONE, number=OTHER_CARD, chip="04D4E5F6", pin=OTHER_PIN, sequence=2
    )
    await make_award(session, mine, behaviour="tree-planting", points_=10)
    await make_award(session, theirs, behaviour="garbage-sorting", points_=300)

    my_token = await ivr_session(client)
    their_token = await ivr_session(client, phone=OTHER_PHONE, last4="5678", pin=OTHER_PIN)
    # Knowing another resident's card ending and PIN is no use from one's own number.
    crossed = await verify(client, phone=PHONE, last4="5678", pin=OTHER_PIN)

    assert (await ask(client, "balance", my_token)).json()["speech"] == "您的积分余额为10分。"
    assert (await ask(client, "balance", their_token)).json()["speech"] == "您的积分余额为300分。"
    refused(crossed, 401, "ivr-verification-failed")
    for resident_id in (mine, theirs):
        actions = [action for _, action, _ in await trail(session, resident_id)]
        assert actions.count("points.balance") == 1


@pytest.mark.parametrize("token", ["", "not-a-session", "x" * 101])
async def test_a_missing_or_forged_ivr_session_is_refused_with_speech(
    client, session, token
) -> None:
    await caller_with_card(session)
    await ivr_session(client)

    response = await ask(client, "balance", token)

    problem = refused(response, 401, "ivr-session-expired")
    assert problem["speech"] == "验证已失效，请重新输入市民卡卡号后四位和密码。"


async def test_an_ivr_session_lasts_five_minutes(client, session) -> None:
    await caller_with_card(session)
    token = await ivr_session(client)

    clock.advance(timedelta(minutes=4, seconds=59))
    still = await ask(client, "balance", token)
    clock.advance(timedelta(seconds=1))
    expired = await ask(client, "balance", token)

    assert still.status_code == 200, still.text
    assert refused(expired, 401, "ivr-session-expired")["speech"].startswith("验证已失效")


async def test_a_card_lost_elsewhere_ends_the_ivr_session(client, session) -> None:
    resident_id, _ = await caller_with_card(session)
    token = await ivr_session(client)
    await citizen_card.report_lost(session, resident_id=resident_id, actor="app", channel="app")

    response = await ask(client, "balance", token)

    refused(response, 401, "ivr-session-expired")


async def test_report_lost_takes_effect_at_once_and_ends_the_session(client, session) -> None:
    resident_id, card_id = await caller_with_card(session)
    token = await ivr_session(client)

    response = await ask(client, "report-lost", token)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "speech": "您尾号1234的市民卡已挂失，立即生效。"
        "请携带身份证到市民卡服务网点补办新卡，您的积分不受影响。"
    }
    card = await citizen_card.card(session, card_id=card_id)
    assert card.status == "reported_lost"
    history = await citizen_card.history(session, card_id=card_id)
    assert (history[-1].actor, history[-1].channel) == ("hotline", "hotline")
    refused(await ask(client, "balance", token), 401, "ivr-session-expired")
    refused(await verify(client), 401, "ivr-verification-failed")
    assert ("hotline", "card.report_lost", "ivr") in await trail(session, resident_id)


# --- tickets -------------------------------------------------------------------------------------


def ticket_body(**over: Any) -> dict[str, Any]:
    return {
        "kind": "suggestion",
        "subject": "建议增设公交站",
        "body": "松陵镇东门小区附近缺少公交站，建议增设。",
        "agent": "A1023",
    } | over


async def file(client: httpx.AsyncClient, **over: Any) -> httpx.Response:
    return await signed(client, "POST", "/v1/hotline/tickets", ticket_body(**over))


async def move(client: httpx.AsyncClient, number: str, status: str, note: str | None = None):
    body: dict[str, Any] = {"status": status, "agent": "A2001"}
    if note:
        body["note"] = note
    return await signed(client, "POST", f"/v1/hotline/tickets/{number}/status", body)


async def rate(client: httpx.AsyncClient, number: str, rating: Any) -> httpx.Response:
    return await signed(client, "POST", f"/v1/hotline/tickets/{number}/rating", {"rating": rating})


async def test_a_ticket_is_filed_for_the_caller_and_numbered_for_the_day(client, session) -> None:
    resident_id, _ = await caller_with_card(session)

    first = await file(client, caller_number=PHONE)
    second = await file(client, resident_id=str(resident_id), kind="report")
    stranger = await file(client, caller_number="0512-63456789", kind="consultation")

    assert first.status_code == 201, first.text
    assert first.json()["number"] == "WJ20261125-000001"
    assert first.json()["resident_id"] == str(resident_id)
    assert first.json()["status"] == "open"
    assert first.json()["created_by"] == "agent:A1023"
    assert first.json()["events"] == [
        {
            "from_status": None,
            "to_status": "open",
            "actor": "agent:A1023",
            "note": None,
            "at": "2026-11-25T02:00:00Z",
        }
    ]
    assert second.json()["number"] == "WJ20261125-000002"
    assert stranger.json()["number"] == "WJ20261125-000003"
    assert stranger.json()["resident_id"] is None
    assert ("hotline", "ticket.filed", "A1023") in await trail(session, resident_id)


@pytest.mark.parametrize(
    "over",
    [
        {"caller_number": PHONE, "resident_id": str(uuid.UUID(int=1))},
        {"kind": "gossip"},
        {"subject": ""},
        {"subject": "   "},
        {"subject": "x" * 201},
        {"body": "a\u0000b"},
        {"agent": "张三"},
        {"agent": None},
        {"extra": True},
    ],
)
async def test_a_malformed_ticket_is_refused(client, session, over) -> None:
    await caller_with_card(session)

    response = await file(client, **over)

    refused(response, 422, "validation-error")


async def test_a_ticket_for_an_unknown_resident_is_refused(client) -> None:
    response = await file(client, resident_id=str(uuid.UUID(int=7)))

    refused(response, 404, "resident-not-found")


async def test_a_ticket_moves_along_and_each_change_notifies_the_resident(client, session) -> None:
    resident_id, _ = await caller_with_card(session)
    number = (await file(client, caller_number=PHONE)).json()["number"]

    steps = [
        await move(client, number, "in_progress", "已转交交通运输局"),
        await move(client, number, "resolved", "已增设站点"),
        await move(client, number, "closed"),
    ]

    assert [s.status_code for s in steps] == [200, 200, 200], steps[-1].text
    final = steps[-1].json()
    assert final["status"] == "closed"
    assert final["closed_at"] == "2026-11-25T02:00:00Z"
    assert [(e["from_status"], e["to_status"], e["actor"], e["note"]) for e in final["events"]] == [
        (None, "open", "agent:A1023", None),
        ("open", "in_progress", "agent:A2001", "已转交交通运输局"),
        ("in_progress", "resolved", "agent:A2001", "已增设站点"),
        ("resolved", "closed", "agent:A2001", None),
    ]
    sent = await notifications.pending(session, topic="tickets.status_changed")
    assert [m.payload for m in sent] == [
        {"ticket_id": final["id"], "number": number, "status": status, "kind": "suggestion"}
        for status in ("in_progress", "resolved", "closed")
    ]
    assert {m.resident_id for m in sent} == {resident_id}
    read = await signed(client, "GET", f"/v1/hotline/tickets/{number}")
    assert read.json() == final


async def test_an_invalid_transition_is_refused_and_changes_nothing(client, session) -> None:
    number = (await file(client)).json()["number"]
    await move(client, number, "closed")

    back = await move(client, number, "open")
    again = await move(client, number, "closed")

    problem = refused(back, 409, "ticket-transition-invalid")
    assert (problem["from_status"], problem["to_status"]) == ("closed", "open")
    refused(again, 409, "ticket-transition-invalid")
    events = (await signed(client, "GET", f"/v1/hotline/tickets/{number}")).json()["events"]
    assert len(events) == 2


async def test_an_unknown_ticket_is_not_found(client) -> None:
    read = await signed(client, "GET", "/v1/hotline/tickets/WJ20261125-999999")
    moved = await move(client, "WJ20261125-999999", "closed")

    refused(read, 404, "ticket-not-found")
    refused(moved, 404, "ticket-not-found")


async def test_the_rating_comes_once_after_closing(client, session) -> None:
    resident_id, _ = await caller_with_card(session)
    number = (await file(client, caller_number=PHONE)).json()["number"]

    early = await rate(client, number, 5)
    await move(client, number, "in_progress")
    await move(client, number, "closed")
    out_of_range = [await rate(client, number, value) for value in (0, 6, "5", 4.5, True)]
    rated = await rate(client, number, 4)
    twice = await rate(client, number, 5)

    refused(early, 409, "ticket-not-closed")
    assert {r.status_code for r in out_of_range} == {422}
    assert rated.status_code == 200, rated.text
    assert (rated.json()["rating"], rated.json()["rated_at"]) == (4, "2026-11-25T02:00:00Z")
    refused(twice, 409, "ticket-already-rated")
    ticket = (await signed(client, "GET", f"/v1/hotline/tickets/{number}")).json()
    assert ticket["rating"] == 4
    assert ("hotline", "ticket.rated", "satisfaction-callback") in await trail(session, resident_id)
