"""Notification preferences over HTTP (defaults, partial changes, security locked, quiet hours),
what the worker reads of them (`for_residents`), and quiet hours at their edges."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from core import clock
from core.db import Database
from notifications import preferences
from notifications.preferences import Resolved
from notifications.topics import DEFAULT_CHANNELS, Channel, Group
from tests.helpers import problem_of
from tests.points_actors import make_resident

URL = "/v1/me/notification-preferences"
SHANGHAI = timezone(timedelta(hours=8))
DEFAULTS = {
    "points": {"push": True, "sms": False, "locked": False},
    "rewards": {"push": True, "sms": True, "locked": False},
    "expiry": {"push": True, "sms": True, "locked": False},
    "community_news": {"push": True, "sms": False, "locked": False},
    "security": {"push": True, "sms": True, "locked": True},
    "tickets": {"push": True, "sms": True, "locked": False},
}


@pytest.fixture
def still(redis: Redis) -> Iterator[None]:  # `redis`: flushed after each test
    with clock.frozen(datetime(2026, 11, 25, 4, tzinfo=UTC)):
        yield


@pytest.mark.usefixtures("still")
async def test_a_new_resident_has_the_defaults(client, session):
    me = await make_resident(session)

    shown = await client.get(URL, headers=me.headers)

    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "groups": DEFAULTS,
        "quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"},
    }


@pytest.mark.usefixtures("still")
async def test_a_partial_change_keeps_everything_else(client, session):
    me = await make_resident(session)
    other = await make_resident(session, phone="13900000002")

    first = await client.patch(URL, json={"groups": {"points": {"sms": True}}}, headers=me.headers)
    second = await client.patch(
        URL,
        json={"groups": {"points": {"push": False}, "community_news": {"push": False}}},
        headers=me.headers,
    )
    quiet = await client.patch(
        URL, json={"quiet_hours": {"start": "23:30", "end": "06:15"}}, headers=me.headers
    )

    assert first.status_code == 200, first.text
    assert first.json()["groups"]["points"] == {"push": True, "sms": True, "locked": False}
    assert second.json()["groups"] == DEFAULTS | {
        "points": {"push": False, "sms": True, "locked": False},
        "community_news": {"push": False, "sms": False, "locked": False},
    }
    assert first.json()["quiet_hours"]["start"] == "22:00"
    assert quiet.json()["groups"] == second.json()["groups"]
    assert quiet.json()["quiet_hours"] == {
        "start": "23:30",
        "end": "06:15",
        "timezone": "Asia/Shanghai",
    }
    assert (await client.get(URL, headers=me.headers)).json() == quiet.json()
    assert (await client.get(URL, headers=other.headers)).json()["groups"] == DEFAULTS


@pytest.mark.usefixtures("still")
async def test_the_worker_sees_what_residents_chose(client, session):
    me = await make_resident(session)
    untouched = await make_resident(session, phone="13900000002")
    await client.patch(
        URL,
        json={
            "groups": {"rewards": {"sms": False}},
            "quiet_hours": {"start": "12:00", "end": "12:00"},
        },
        headers=me.headers,
    )

    found = await preferences.for_residents(session, [me.id, untouched.id])

    assert not found[me.id].wants(Group.REWARDS, Channel.SMS)
    assert found[me.id].wants(Group.REWARDS, Channel.PUSH)
    assert found[untouched.id].wants(Group.REWARDS, Channel.SMS)
    assert found[me.id].quiet_until(datetime(2026, 11, 25, 16, tzinfo=UTC)) is None  # none
    assert found[untouched.id].quiet_until(datetime(2026, 11, 25, 16, tzinfo=UTC)) == datetime(
        2026, 11, 26, 0, tzinfo=UTC
    )
    for group in Group:
        for channel in Channel:
            assert found[untouched.id].wants(group, channel) == DEFAULT_CHANNELS[group][channel]


@pytest.mark.usefixtures("still")
@pytest.mark.parametrize(
    "change",
    [
        {"security": {"push": False}},
        {"security": {"sms": False}},
        {"security": {"push": True, "sms": False}},
        {"points": {"sms": True}, "security": {"push": False}},
    ],
)
async def test_security_notices_cannot_be_switched_off(client, session, change):
    me = await make_resident(session)

    refused = await client.patch(URL, json={"groups": change}, headers=me.headers)

    assert refused.status_code == 422
    problem = problem_of(refused)
    assert problem["type"].endswith("preference-locked")
    assert problem["group"] == "security"
    assert (await client.get(URL, headers=me.headers)).json()["groups"] == DEFAULTS  # unchanged
    assert (await preferences.for_residents(session, [me.id]))[me.id].wants(
        Group.SECURITY, Channel.SMS
    )


@pytest.mark.usefixtures("still")
async def test_switching_security_on_is_harmless(client, session):
    me = await make_resident(session)

    kept = await client.patch(
        URL, json={"groups": {"security": {"push": True, "sms": True}}}, headers=me.headers
    )

    assert kept.status_code == 200
    assert kept.json()["groups"]["security"] == DEFAULTS["security"]


@pytest.mark.usefixtures("still")
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"groups": {}},
        {"groups": {"weather": {"push": True}}},
        {"groups": {"points": {"email": True}}},
        {"groups": {"points": {"push": "yes"}}},
        {"groups": {"points": {"push": 1}}},
        {"groups": {"points": {"push": None}}},
        {"groups": ["points"]},
        {"quiet_hours": {"start": "24:00", "end": "08:00"}},
        {"quiet_hours": {"start": "7:00", "end": "08:00"}},
        {"quiet_hours": {"start": "07:60", "end": "08:00"}},
        {"quiet_hours": {"start": "22:00", "end": "08:00:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": "２２:００", "end": "08:00"}},
        {"quiet_hours": {"start": 2200, "end": 800}},
        {"quiet_hours": {"start": "22:00", "end": "08:00", "timezone": "UTC"}},
        {"mute_everything": True},
    ],
)
async def test_malformed_changes_are_refused(client, session, body):
    me = await make_resident(session)

    refused = await client.patch(URL, json=body, headers=me.headers)

    assert refused.status_code == 422, refused.text
    assert problem_of(refused)["type"].endswith("validation-error")
    assert (await client.get(URL, headers=me.headers)).json()["groups"] == DEFAULTS


async def test_two_changes_at_once_both_stick(committed_client, committed_db: Database):
    async with committed_db.unit_of_work() as s:
        me = await make_resident(s)
    changes = [
        {"groups": {"points": {"sms": True}}},
        {"groups": {"community_news": {"push": False}}},
        {"groups": {"rewards": {"sms": False}}},
        {"quiet_hours": {"start": "21:00", "end": "07:00"}},
    ]

    answers = await asyncio.gather(
        *(committed_client.patch(URL, json=c, headers=me.headers) for c in changes)
    )

    assert [a.status_code for a in answers] == [200] * 4
    final = (await committed_client.get(URL, headers=me.headers)).json()
    assert final["groups"]["points"]["sms"] is True
    assert final["groups"]["community_news"]["push"] is False
    assert final["groups"]["rewards"]["sms"] is False
    assert (final["quiet_hours"]["start"], final["quiet_hours"]["end"]) == ("21:00", "07:00")


async def test_preferences_need_a_signed_in_resident(client):
    assert (await client.get(URL)).status_code == 401
    assert (await client.patch(URL, json={"groups": {"points": {"sms": True}}})).status_code == 401


# --- quiet hours at their edges (local time, Asia/Shanghai) -----------------------------------


def resolved(start: str, end: str) -> Resolved:
    channels = {group: dict(channels) for group, channels in DEFAULT_CHANNELS.items()}
    return Resolved(channels, start, end)


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (local(10, 21, 59), None),
        (local(10, 21, 59, 59), None),
        (local(10, 22, 0), local(11, 8, 0)),
        (local(10, 23, 59, 59), local(11, 8, 0)),
        (local(11, 0, 0), local(11, 8, 0)),
        (local(11, 3, 0), local(11, 8, 0)),
        (local(11, 7, 59), local(11, 8, 0)),
        (local(11, 7, 59, 59), local(11, 8, 0)),
        (local(11, 8, 0), None),
        (local(11, 12, 0), None),
    ],
)
def test_quiet_hours_across_midnight(at, until):
    assert resolved("22:00", "08:00").quiet_until(at) == until


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (local(10, 12, 59), None),
        (local(10, 13, 0), local(10, 14, 30)),
        (local(10, 14, 29), local(10, 14, 30)),
        (local(10, 14, 30), None),
        (local(10, 23, 0), None),
        (local(10, 2, 0), None),
    ],
)
def test_quiet_hours_within_one_day(at, until):
    assert resolved("13:00", "14:30").quiet_until(at) == until


@pytest.mark.parametrize("hour", [0, 7, 12, 22, 23])
def test_equal_start_and_end_means_no_quiet_hours(hour):
    assert resolved("22:00", "22:00").quiet_until(local(10, hour)) is None
    assert resolved("00:00", "00:00").quiet_until(local(10, hour)) is None


def test_quiet_until_reads_any_timezone_and_answers_in_utc():
    # 15:00 UTC is 23:00 in Wujiang: quiet until 08:00 there, which is 00:00 UTC.
    until = resolved("22:00", "08:00").quiet_until(datetime(2026, 11, 10, 15, tzinfo=UTC))

    assert until == datetime(2026, 11, 11, 0, tzinfo=UTC)
    assert until is not None
    assert until.utcoffset() == timedelta(0)


def test_quiet_hours_ending_at_midnight():
    assert resolved("20:00", "00:00").quiet_until(local(10, 23, 30)) == local(11, 0, 0)
    assert resolved("20:00", "00:00").quiet_until(local(11, 0, 0)) is None
    assert resolved("00:00", "06:00").quiet_until(local(11, 0, 0)) == local(11, 6, 0)


def test_security_is_always_wanted_whatever_is_stored():
    channels = {group: dict.fromkeys(Channel, False) for group in Group}
    choice = Resolved(channels, "22:00", "08:00")

    assert choice.wants(Group.SECURITY, Channel.SMS)
    assert choice.wants(Group.SECURITY, Channel.PUSH)
    assert not choice.wants(Group.POINTS, Channel.PUSH)


async def test_residents_never_asked_about_get_the_defaults(session):
    nobody = uuid.uuid4()

    found = await preferences.for_residents(session, [nobody])

    assert found[nobody].quiet_start == "22:00"
    assert found[nobody].quiet_end == "08:00"
    assert await preferences.for_residents(session, []) == {}


# --- the language notices are written in ------------------------------------------------------


@pytest.mark.usefixtures("still")
async def test_changing_language_shows_in_the_profile(client, session):
    me = await make_resident(session)

    changed = await client.put("/v1/me/language", json={"language": "en"}, headers=me.headers)

    assert changed.status_code == 200, changed.text
    assert changed.json()["language"] == "en"
    assert changed.json()["phone"] == "138****5678"  # the profile, still masked
    assert (await client.get("/v1/me", headers=me.headers)).json()["language"] == "en"
    back = await client.put("/v1/me/language", json={"language": "zh"}, headers=me.headers)
    assert back.json()["language"] == "zh"


@pytest.mark.usefixtures("still")
@pytest.mark.parametrize("body", [{"language": "fr"}, {"language": "EN"}, {"language": None}, {}])
async def test_unsupported_languages_are_refused(client, session, body):
    me = await make_resident(session)

    refused = await client.put("/v1/me/language", json=body, headers=me.headers)

    assert refused.status_code == 422
    assert problem_of(refused)["type"].endswith("validation-error")
    assert (await client.get("/v1/me", headers=me.headers)).json()["language"] == "zh"


async def test_changing_language_needs_a_signed_in_resident(client):
    assert (await client.put("/v1/me/language", json={"language": "en"})).status_code == 401
