"""The TV box channel over HTTP: a box paired through the device flow browses its resident's
points, rewards and notices in pages of six (a cursor for "next"), offers typing actions as QR
deep links, is refused app endpoints (and the app its screens), leaves a footprint, and is
unpaired from the app."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import pytest
from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from channels.tv import deeplinks
from core import clock
from core.ids import new_id
from identity import sessions
from identity.clients import TV_CLIENT_ID
from notifications import inbox
from tests.helpers import problem_of
from tests.points.factories import make_award, make_reward
from tests.points_actors import Actor, make_resident, make_staff

NOW = datetime(2026, 11, 25, 4, tzinfo=UTC)  # 12:00 in Wujiang
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SVG = "{http://www.w3.org/2000/svg}svg"
TV_SCREENS = [
    ("GET", "/v1/tv/home"),
    ("GET", "/v1/tv/more"),
    ("GET", "/v1/tv/points/history"),
    ("GET", "/v1/tv/rewards"),
    ("GET", "/v1/tv/inbox"),
    ("POST", f"/v1/tv/inbox/{uuid.UUID(int=1)}/read"),
]


@pytest.fixture(autouse=True)
def still(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(NOW):
        yield


async def pair_tv(client: AsyncClient, resident: Actor) -> dict:
    """The real pairing: the box asks, the resident approves in the app, the box polls."""
    started = await client.post("/oauth2/device_authorization", data={"client_id": TV_CLIENT_ID})
    assert started.status_code == 200, started.text
    device = started.json()
    approved = await client.post(
        f"/v1/me/device-codes/{device['user_code']}",
        json={"approve": True},
        headers=resident.headers,
    )
    assert approved.status_code == 200, approved.text
    tokens = await client.post(
        "/oauth2/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": device["device_code"],
            "client_id": TV_CLIENT_ID,
        },
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


async def mint_tv(session: AsyncSession, resident: Actor, device: str = "客厅电视") -> Actor:
    """A TV session as the device flow leaves it, made directly (quicker)."""
    tokens = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id=TV_CLIENT_ID,
        channel="tv",
        assurance="phone",
        scope="points:read",
        device_name=device,
    )
    return Actor(resident.id, tokens.access_token)


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def deliver(session: AsyncSession, resident_id: uuid.UUID, n: int) -> None:
    await inbox.add(
        session,
        resident_id=resident_id,
        message_id=new_id(),
        topic="points.awarded",
        title=f"通知 {n}",
        body=f"您获得了 {n} 积分。",
        data={},
    )


def well_formed_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed
    assert root.tag == SVG
    assert root.find(".//{http://www.w3.org/2000/svg}path") is not None
    return root


async def all_pages(client: AsyncClient, path: str, headers: dict) -> list[dict]:
    """Every screen of a list, following `next_cursor` as the remote's "next" button does."""
    pages: list[dict] = []
    params: dict[str, str] = {}
    for _ in range(10):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        if body["next_cursor"] is None:
            return pages
        params = {"cursor": body["next_cursor"]}
    raise AssertionError("next_cursor never ended")


# --- the home screen ---------------------------------------------------------------------------


async def test_a_box_paired_through_the_device_flow_shows_its_residents_home(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    # Lapses at midnight starting 16 December, local time: usable through 15 December.
    await make_award(
        session, resident.id, points_=10, expires_at=datetime(2026, 12, 15, 16, tzinfo=UTC)
    )
    await make_award(session, resident.id, points_=30)  # lapses at the end of next year
    for n in range(4):
        await deliver(session, resident.id, n)
    tv = await pair_tv(client, resident)
    first = (await client.get("/v1/tv/inbox", headers=bearer(tv))).json()["items"][-1]
    await client.post(f"/v1/tv/inbox/{first['id']}/read", headers=bearer(tv))

    response = await client.get("/v1/tv/home", headers=bearer(tv))

    assert response.status_code == 200, response.text
    home = response.json()
    assert home["name"] == "138****5678"
    assert home["points"] == {"total": 40, "available": 40}
    assert home["expiring"] == {"points": 10, "last_day": "2026-12-15"}
    assert [n["title"] for n in home["notices"]] == ["通知 3", "通知 2", "通知 1"]
    assert all(n["unread"] for n in home["notices"])
    assert home["notices"][0]["at"].endswith("+08:00")  # local time for the screen
    assert home["unread"] == 3  # 通知 0 was opened
    tiles = {tile["key"]: tile for tile in home["tiles"]}
    assert [t["label"] for t in home["tiles"][:4]] == [
        "积分明细",
        "兑换礼品",
        "消息",
        "绑定手机App",
    ]
    assert tiles["points_history"]["target"] == "/v1/tv/points/history"
    assert tiles["rewards"]["target"] == "/v1/tv/rewards"
    assert tiles["inbox"]["target"] == "/v1/tv/inbox"
    assert tiles["more"]["target"] == "/v1/tv/more"
    assert tiles["pair_app"]["target"] is None
    assert tiles["pair_app"]["qr"]["payload"] == "wujiang://home?from=tv"
    well_formed_svg(tiles["pair_app"]["qr"]["svg"])
    for tile in home["tiles"]:  # every target is a screen the box can open
        if tile["target"]:
            assert (await client.get(tile["target"], headers=bearer(tv))).status_code == 200


async def test_a_new_residents_home_has_nothing_yet(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)

    home = (await client.get("/v1/tv/home", headers=tv.headers)).json()

    assert home["points"] == {"total": 0, "available": 0}
    assert home["expiring"] == {"points": 0, "last_day": None}
    assert (home["notices"], home["unread"]) == ([], 0)


# --- pages of six ------------------------------------------------------------------------------


async def test_thirteen_rewards_are_three_pages_each_with_a_qr_to_redeem_in_the_app(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)
    rewards = [await make_reward(session, points_cost=10 + n) for n in range(13)]

    pages = await all_pages(client, "/v1/tv/rewards", tv.headers)

    assert [len(p["items"]) for p in pages] == [6, 6, 1]
    shown = [item for p in pages for item in p["items"]]
    assert [item["code"] for item in shown] == sorted(r.code for r in rewards)
    for item in shown:
        assert item["title"] == "环保袋"
        assert item["qr"]["payload"] == f"wujiang://rewards/{item['code']}?from=tv"
        well_formed_svg(item["qr"]["svg"])


async def test_thirteen_notices_are_three_pages_newest_first(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    tv = await mint_tv(session, resident)
    for n in range(13):
        await deliver(session, resident.id, n)
    await deliver(session, other.id, 99)

    pages = await all_pages(client, "/v1/tv/inbox", tv.headers)

    assert [len(p["items"]) for p in pages] == [6, 6, 1]
    titles = [item["title"] for p in pages for item in p["items"]]
    assert titles == [f"通知 {n}" for n in range(12, -1, -1)]
    assert {p["unread"] for p in pages} == {13}


async def test_thirteen_awards_are_three_pages_of_history(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)
    for n in range(13):
        await make_award(session, resident.id, points_=n + 1)

    pages = await all_pages(client, "/v1/tv/points/history", tv.headers)

    assert [len(p["items"]) for p in pages] == [6, 6, 1]
    lines = [item for p in pages for item in p["items"]]
    assert [line["points"] for line in lines] == list(range(13, 0, -1))
    assert lines[0]["balance_after"] == sum(range(1, 14))
    assert {line["kind"] for line in lines} == {"award"}
    assert {line["label"] for line in lines} == {"垃圾正确分类投放"}


async def test_twelve_items_end_exactly_on_page_two(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)
    for n in range(12):
        await deliver(session, resident.id, n)

    pages = await all_pages(client, "/v1/tv/inbox", tv.headers)

    assert [len(p["items"]) for p in pages] == [6, 6]


@pytest.mark.parametrize(
    ("params", "status", "problem"),
    [
        ({"limit": "0"}, 422, "validation-error"),
        ({"limit": "101"}, 422, "validation-error"),
        ({"limit": "two"}, 422, "validation-error"),
        ({"cursor": "page-2"}, 400, "invalid-cursor"),
        ({"cursor": "x" * 201}, 422, "validation-error"),
    ],
)
async def test_bad_paging_is_refused_clearly(
    client: AsyncClient, session: AsyncSession, params: dict, status: int, problem: str
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)

    for path in ("/v1/tv/rewards", "/v1/tv/inbox", "/v1/tv/points/history"):
        response = await client.get(path, params=params, headers=tv.headers)
        assert response.status_code == status
        assert problem_of(response)["type"].endswith(problem)


# --- notices -------------------------------------------------------------------------------------


async def test_opening_a_notice_marks_it_read_and_only_ones_own(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    tv = await mint_tv(session, resident)
    await deliver(session, resident.id, 1)
    await deliver(session, other.id, 2)
    mine = (await client.get("/v1/tv/inbox", headers=tv.headers)).json()["items"][0]
    theirs = (await client.get("/v1/me/inbox", headers=other.headers)).json()["items"][0]

    opened = await client.post(f"/v1/tv/inbox/{mine['id']}/read", headers=tv.headers)
    again = await client.post(f"/v1/tv/inbox/{mine['id']}/read", headers=tv.headers)
    foreign = await client.post(f"/v1/tv/inbox/{theirs['id']}/read", headers=tv.headers)

    assert opened.status_code == again.status_code == 200
    assert opened.json()["body"] == "您获得了 1 积分。"
    assert opened.json()["unread"] is False
    after = (await client.get("/v1/tv/inbox", headers=tv.headers)).json()
    assert (after["unread"], after["items"][0]["unread"]) == (0, False)
    assert foreign.status_code == 404
    assert problem_of(foreign)["type"].endswith("inbox-item-not-found")
    other_view = (await client.get("/v1/me/inbox", headers=other.headers)).json()
    assert other_view["unread"] == 1


# --- QR deep links -----------------------------------------------------------------------------


async def test_actions_that_need_typing_are_qr_deep_links_without_personal_data(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)

    more = (await client.get("/v1/tv/more", headers=tv.headers)).json()

    actions = {a["key"]: a for a in more["actions"]}
    assert {key: a["qr"]["payload"] for key, a in actions.items()} == {
        "preferences": "wujiang://settings/notifications?from=tv",
        "card_lost": "wujiang://card/report-lost?from=tv",
        "sign_out": "wujiang://settings/sessions?from=tv",
    }
    assert [a["label"] for a in more["actions"]] == ["通知设置", "挂失市民卡", "退出其他设备"]
    for action in more["actions"]:
        well_formed_svg(action["qr"]["svg"])
        assert str(resident.id) not in action["qr"]["payload"]
        assert "138" not in action["qr"]["payload"]


async def test_english_speaking_residents_get_english_labels(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)
    await make_reward(session)
    changed = await client.put("/v1/me/language", json={"language": "en"}, headers=resident.headers)
    assert changed.status_code == 200

    home = (await client.get("/v1/tv/home", headers=tv.headers)).json()
    rewards = (await client.get("/v1/tv/rewards", headers=tv.headers)).json()

    assert [t["label"] for t in home["tiles"]][:3] == ["Points history", "Rewards", "Messages"]
    assert rewards["items"][0]["title"] == "Tote bag"


# The autouse `still` fixture only freezes the clock, which these examples never read.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=64))
def test_a_reward_link_names_only_the_reward_whatever_its_code(code: str) -> None:
    link = deeplinks.reward(code)

    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.query) == ("wujiang", "rewards", "from=tv")
    assert parts.path.count("/") == 1
    assert unquote(parts.path.removeprefix("/")) == code


def test_a_qr_code_carries_its_payload_and_is_standalone_svg() -> None:
    code = deeplinks.qr("wujiang://rewards/tote-bag?from=tv")

    assert code.payload == "wujiang://rewards/tote-bag?from=tv"
    root = well_formed_svg(code.svg)
    assert root.get("viewBox")  # scales to whatever size the TV draws it


# --- who may call ------------------------------------------------------------------------------


async def test_app_and_staff_tokens_are_refused_on_tv_screens(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    member = await make_staff(session, "worker", [("awarder", "songling")])

    for method, path in TV_SCREENS:
        for actor in (resident, member):
            response = await client.request(method, path, headers=actor.headers)
            assert response.status_code == 403, (path, response.text)
            assert problem_of(response)["type"].endswith("wrong-channel")
        anonymous = await client.request(method, path)
        assert anonymous.status_code == 401


async def test_tv_tokens_are_refused_on_the_residents_app_endpoints(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await mint_tv(session, resident)
    box = (await client.get("/v1/me/tv-boxes", headers=resident.headers)).json()["items"][0]

    for method, path in [
        ("GET", "/v1/me/tv-boxes"),
        ("DELETE", f"/v1/me/tv-boxes/{box['id']}"),
        ("GET", "/v1/me/activity"),
        ("GET", "/v1/me/activity/export"),
    ]:
        response = await client.request(method, path, headers=tv.headers)
        assert response.status_code == 403, (path, response.text)
        assert problem_of(response)["type"].endswith("insufficient-scope")
    assert (await client.get("/v1/tv/home", headers=tv.headers)).status_code == 200


# --- unpairing ---------------------------------------------------------------------------------


async def test_unpairing_from_the_app_refuses_the_box_at_once(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    tv = await pair_tv(client, resident)
    assert (await client.get("/v1/tv/home", headers=bearer(tv))).status_code == 200

    boxes = (await client.get("/v1/me/tv-boxes", headers=resident.headers)).json()["items"]
    assert [(b["id"], b["device_name"]) for b in boxes] == [(tv["session_id"], "TV box")]
    assert boxes[0]["paired_at"] == boxes[0]["last_used_at"] == "2026-11-25T04:00:00Z"

    unpaired = await client.delete(f"/v1/me/tv-boxes/{tv['session_id']}", headers=resident.headers)

    assert unpaired.status_code == 204
    refused = await client.get("/v1/tv/home", headers=bearer(tv))
    assert refused.status_code == 401
    assert (await client.get("/v1/me/tv-boxes", headers=resident.headers)).json()["items"] == []
    again = await client.delete(f"/v1/me/tv-boxes/{tv['session_id']}", headers=resident.headers)
    assert again.status_code == 404
    renewed = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tv["refresh_token"],
            "client_id": TV_CLIENT_ID,
        },
    )
    assert renewed.json()["error"] == "invalid_grant"
    assert (await client.get("/v1/me", headers=resident.headers)).status_code == 200


async def test_only_ones_own_tv_boxes_are_listed_and_unpaired(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    tv = await mint_tv(session, resident)
    await mint_tv(session, other, device="卧室电视")
    listed = await client.get("/v1/me/tv-boxes", headers=resident.headers)
    own_boxes = listed.json()["items"]
    other_boxes = (await client.get("/v1/me/tv-boxes", headers=other.headers)).json()["items"]
    app_session = next(
        s
        for s in (await client.get("/v1/me/sessions", headers=resident.headers)).json()["items"]
        if s["channel"] == "app"
    )

    foreign = await client.delete(f"/v1/me/tv-boxes/{own_boxes[0]['id']}", headers=other.headers)
    not_a_box = await client.delete(
        f"/v1/me/tv-boxes/{app_session['id']}", headers=resident.headers
    )
    unknown = await client.delete(f"/v1/me/tv-boxes/{uuid.uuid4()}", headers=resident.headers)

    assert [b["device_name"] for b in own_boxes] == ["客厅电视"]
    assert [b["device_name"] for b in other_boxes] == ["卧室电视"]
    for refused in (foreign, not_a_box, unknown):
        assert refused.status_code == 404
        assert problem_of(refused)["type"].endswith("session-not-found")
    assert (await client.get("/v1/tv/home", headers=tv.headers)).status_code == 200
    assert (await client.get("/v1/me", headers=resident.headers)).status_code == 200


# --- the footprint -----------------------------------------------------------------------------


async def test_every_tv_request_leaves_a_line_in_the_residents_trail(
    client: AsyncClient, session: AsyncSession
) -> None:
    resident = await make_resident(session)
    other = await make_resident(session, phone="13912345678")
    tv = await mint_tv(session, resident)
    paired = await pair_tv(client, resident)
    await deliver(session, resident.id, 1)

    await client.get("/v1/tv/home", headers=tv.headers)
    await client.get("/v1/tv/points/history", params={"limit": 2}, headers=tv.headers)
    await client.get("/v1/tv/rewards", headers=tv.headers)
    notice = (await client.get("/v1/tv/inbox", headers=tv.headers)).json()["items"][0]
    await client.post(f"/v1/tv/inbox/{notice['id']}/read", headers=tv.headers)
    await client.get("/v1/tv/home", headers=bearer(paired))
    await client.get("/v1/tv/home", headers=resident.headers)  # refused: no trace
    await client.delete(f"/v1/me/tv-boxes/{paired['session_id']}", headers=resident.headers)

    trail = (await client.get("/v1/me/activity", headers=resident.headers)).json()["items"]
    tv_trail = (
        await client.get("/v1/me/activity", params={"channel": "tv"}, headers=resident.headers)
    ).json()["items"]

    assert [(line["channel"], line["action"], line["device"]) for line in trail] == [
        ("app", "tv.unpaired", "app"),
        ("tv", "tv.home", "TV box"),
        ("tv", "tv.inbox_read", "客厅电视"),
        ("tv", "tv.inbox", "客厅电视"),
        ("tv", "tv.rewards", "客厅电视"),
        ("tv", "tv.points_history", "客厅电视"),
        ("tv", "tv.home", "客厅电视"),
    ]
    assert tv_trail == trail[1:]
    box = session_of(tv_trail, "客厅电视")
    assert trail[5]["detail"] == {"session_id": box}
    assert trail[2]["detail"] == {"session_id": box, "notice_id": notice["id"]}
    assert trail[0]["detail"]["box"] == paired["session_id"]
    assert (await client.get("/v1/me/activity", headers=other.headers)).json()["items"] == []


def session_of(lines: list[dict], device: str) -> str:
    """The one session id of a device's lines."""
    (only,) = {line["detail"]["session_id"] for line in lines if line["device"] == device}
    return only
