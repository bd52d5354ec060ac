"""Residents' inboxes over HTTP: keyset pages, cursors that cannot be forged into a 500, unread
counts, and marking read (one, all, all up to an item)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from notifications import inbox
from notifications.models import InboxItem
from tests.helpers import problem_of
from tests.points_actors import make_resident

NOW = datetime(2026, 11, 25, 4, tzinfo=UTC)


@pytest.fixture
def still(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(NOW):
        yield


async def deliver(session: AsyncSession, resident_id: uuid.UUID, n: int) -> uuid.UUID:
    """What the worker does: one notice into the resident's inbox. Its message id."""
    message_id = new_id()
    await inbox.add(
        session,
        resident_id=resident_id,
        message_id=message_id,
        topic="points.awarded",
        title=f"Notice {n}",
        body=f"You earned {n} points.",
        data={"n": str(n)},
    )
    return message_id


async def all_pages(client: AsyncClient, headers, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/me/inbox", params=query, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20


@pytest.mark.usefixtures("still")
async def test_the_inbox_pages_newest_first_without_repeats(client, session):
    me = await make_resident(session)
    other = await make_resident(session, phone="13900000002")
    for n in range(7):
        await deliver(session, me.id, n)
        await deliver(session, other.id, 100 + n)

    pages = await all_pages(client, me.headers, limit=3)

    assert [len(p) for p in pages] == [3, 3, 1]
    titles = [item["title"] for page in pages for item in page]
    assert titles == [f"Notice {n}" for n in reversed(range(7))]
    first = pages[0][0]
    assert first["topic"] == "points.awarded"
    assert first["data"] == {"n": "6"}
    assert first["read_at"] is None
    whole = (await client.get("/v1/me/inbox", headers=me.headers)).json()
    assert whole["unread"] == 7
    assert whole["next_cursor"] is None
    assert len(whole["items"]) == 7


@pytest.mark.usefixtures("still")
async def test_a_notice_arriving_between_pages_neither_repeats_nor_hides_one(client, session):
    me = await make_resident(session)
    for n in range(4):
        await deliver(session, me.id, n)
    first = (await client.get("/v1/me/inbox", params={"limit": 2}, headers=me.headers)).json()

    await deliver(session, me.id, 99)
    rest = await client.get(
        "/v1/me/inbox", params={"limit": 10, "cursor": first["next_cursor"]}, headers=me.headers
    )

    assert [i["title"] for i in first["items"]] == ["Notice 3", "Notice 2"]
    assert [i["title"] for i in rest.json()["items"]] == ["Notice 1", "Notice 0"]
    assert rest.json()["unread"] == 5


@pytest.mark.usefixtures("still")
async def test_adding_the_same_message_twice_adds_one_item(session):
    me = await make_resident(session)
    message_id = new_id()
    for _ in range(2):
        await inbox.add(
            session,
            resident_id=me.id,
            message_id=message_id,
            topic="community.news",
            title="Water off on Friday",
            body="Maintenance in Songling.",
            data={},
        )

    count = await session.scalar(select(func.count()).select_from(InboxItem))
    assert count == 1


@pytest.mark.parametrize("spelling", ["1", "0", "yes", "on", "True", ""])
async def test_unread_only_is_spelled_true_or_false(client, session, spelling):
    me = await make_resident(session)

    response = await client.get(
        "/v1/me/inbox", params={"unread_only": spelling}, headers=me.headers
    )

    assert response.status_code == 422
    assert problem_of(response)["errors"][0]["field"] == "query.unread_only"


@pytest.mark.usefixtures("still")
async def test_unread_only_and_marking_one_read(client, session):
    me = await make_resident(session)
    for n in range(3):
        await deliver(session, me.id, n)
    items = (await client.get("/v1/me/inbox", headers=me.headers)).json()["items"]
    middle = items[1]["id"]

    clock.advance(timedelta(minutes=1))
    read = await client.post(f"/v1/me/inbox/{middle}/read", headers=me.headers)
    clock.advance(timedelta(minutes=1))
    again = await client.post(f"/v1/me/inbox/{middle}/read", headers=me.headers)

    assert read.status_code == 200, read.text
    assert datetime.fromisoformat(read.json()["read_at"]) == NOW + timedelta(minutes=1)
    assert again.json() == read.json()  # idempotent: read_at stays the first reading
    count = await client.get("/v1/me/inbox/unread-count", headers=me.headers)
    assert count.json() == {"unread": 2}
    unread = (
        await client.get("/v1/me/inbox", params={"unread_only": "true"}, headers=me.headers)
    ).json()
    assert [i["title"] for i in unread["items"]] == ["Notice 2", "Notice 0"]
    assert unread["unread"] == 2


@pytest.mark.usefixtures("still")
async def test_another_residents_notice_is_not_found(client, session):
    me = await make_resident(session)
    other = await make_resident(session, phone="13900000002")
    await deliver(session, other.id, 1)
    [theirs] = (await client.get("/v1/me/inbox", headers=other.headers)).json()["items"]

    attempt = await client.post(f"/v1/me/inbox/{theirs['id']}/read", headers=me.headers)
    unknown = await client.post(f"/v1/me/inbox/{new_id()}/read", headers=me.headers)
    malformed = await client.post("/v1/me/inbox/not-a-uuid/read", headers=me.headers)

    assert attempt.status_code == 404
    assert problem_of(attempt)["type"].endswith("inbox-item-not-found")
    assert unknown.status_code == 404
    assert malformed.status_code == 422
    assert (await client.get("/v1/me/inbox/unread-count", headers=other.headers)).json() == {
        "unread": 1
    }
    assert (await client.get("/v1/me/inbox", headers=me.headers)).json()["items"] == []


@pytest.mark.usefixtures("still")
async def test_read_all_up_to_an_item_leaves_later_ones_unread(client, session):
    me = await make_resident(session)
    other = await make_resident(session, phone="13900000002")
    await deliver(session, other.id, 0)
    for n in range(3):
        await deliver(session, me.id, n)
    shown = (await client.get("/v1/me/inbox", headers=me.headers)).json()["items"]
    await deliver(session, me.id, 3)  # arrives while the resident reads

    marked = await client.post(
        "/v1/me/inbox/read-all", json={"up_to": shown[0]["id"]}, headers=me.headers
    )

    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked": 3}
    unread = (
        await client.get("/v1/me/inbox", params={"unread_only": True}, headers=me.headers)
    ).json()
    assert [i["title"] for i in unread["items"]] == ["Notice 3"]
    rest = await client.post("/v1/me/inbox/read-all", headers=me.headers)  # no body: everything
    assert rest.json() == {"marked": 1}
    none_left = await client.post("/v1/me/inbox/read-all", json={}, headers=me.headers)
    assert none_left.json() == {"marked": 0}
    assert (await client.get("/v1/me/inbox/unread-count", headers=me.headers)).json() == {
        "unread": 0
    }
    assert (await client.get("/v1/me/inbox/unread-count", headers=other.headers)).json() == {
        "unread": 1
    }


@pytest.mark.usefixtures("still")
async def test_read_all_refuses_a_malformed_up_to(client, session):
    me = await make_resident(session)

    refused = await client.post(
        "/v1/me/inbox/read-all", json={"up_to": "yesterday"}, headers=me.headers
    )

    assert refused.status_code == 422
    assert problem_of(refused)["type"].endswith("validation-error")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.usefixtures("still")
async def test_forged_cursors_are_refused_clearly(client, session):
    me = await make_resident(session)
    for n in range(3):
        await deliver(session, me.id, n)
    issued = (await client.get("/v1/me/inbox", params={"limit": 1}, headers=me.headers)).json()[
        "next_cursor"
    ]
    item_hex = base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4)).decode()[1:]
    forged = [
        "not-a-cursor",
        issued + "=",  # padded: another spelling of the same position
        issued + "A",
        issued[:-1],
        "!!!!",
        _b64(b"h12"),  # the points history's kind of cursor
        _b64(b"i" + b"g" * 32),
        _b64(b"x" + item_hex.encode()),
        _b64(b"i" + item_hex.upper().encode()),  # not the spelling this API issues
        _b64(b"i{" + item_hex[:30].encode() + b"}"),
        _b64(b"\xff\xfe" * 10),
        _b64(b"i" + b"0" * 32 + b"\x00"),
    ]

    for cursor in forged:
        refused = await client.get("/v1/me/inbox", params={"cursor": cursor}, headers=me.headers)
        assert refused.status_code == 400, (cursor, refused.text)
        assert problem_of(refused)["type"].endswith("invalid-cursor"), cursor
    too_long = await client.get("/v1/me/inbox", params={"cursor": "A" * 201}, headers=me.headers)
    assert too_long.status_code == 422
    assert problem_of(too_long)["type"].endswith("validation-error")
    fine = await client.get("/v1/me/inbox", params={"cursor": issued}, headers=me.headers)
    assert fine.status_code == 200


@pytest.mark.usefixtures("still")
@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
async def test_page_sizes_outside_1_to_100_are_refused(client, session, limit):
    me = await make_resident(session)

    refused = await client.get("/v1/me/inbox", params={"limit": limit}, headers=me.headers)

    assert refused.status_code == 422
    assert problem_of(refused)["type"].endswith("validation-error")


async def test_the_inbox_needs_a_signed_in_resident(client):
    assert (await client.get("/v1/me/inbox")).status_code == 401
    assert (await client.get("/v1/me/inbox/unread-count")).status_code == 401
    assert (await client.post("/v1/me/inbox/read-all")).status_code == 401
