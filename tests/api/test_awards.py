"""Awarding points over HTTP: a resident shows their earning code, a staff member scans it."""

from __future__ import annotations

import uuid

import pytest

import ledger
import notifications
import points
from points.accounts import wallet
from tests.helpers import problem_of
from tests.points_actors import make_resident, make_staff


@pytest.fixture
async def programme(session, redis):
    text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    await points.publish_behaviours(session, document=text, published_by="test")
    resident = await make_resident(session)
    awarder = await make_staff(session, "zhang.min", [("awarder", "songling")])
    return resident, awarder


def award_body(**overrides):
    return {"behaviour": "tree-planting", "quantity": "1", "community": "songling", **overrides}


async def test_a_scanned_code_awards_points_once(client, session, programme) -> None:
    resident, awarder = programme
    code = (await client.get("/v1/me/points/code", headers=resident.headers)).json()
    headers = {**awarder.headers, "Idempotency-Key": str(uuid.uuid4())}

    first = await client.post(
        "/v1/staff/awards", json=award_body(code=code["code"]), headers=headers
    )
    again = await client.post(
        "/v1/staff/awards", json=award_body(code=code["code"]), headers=headers
    )

    assert first.status_code == 201, first.text
    assert first.json()["status"] == "posted"
    assert first.json()["points"] == 10
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    account = await ledger.get_account(session, code=wallet(resident.id))
    assert account.balance == 10
    sent = await notifications.pending(session, topic="points.awarded")
    assert [m.payload["points"] for m in sent] == [10]

    other_key = {**awarder.headers, "Idempotency-Key": str(uuid.uuid4())}
    reused = await client.post(
        "/v1/staff/awards", json=award_body(code=code["code"]), headers=other_key
    )
    assert problem_of(reused)["type"].endswith("earn-code-used")
