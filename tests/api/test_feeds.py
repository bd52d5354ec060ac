"""POST /v1/feeds/{source}/batches: a feed machine with a client credentials token sends a batch
and gets the per-row report. Each chunk of a batch commits on its own, so these tests run on
real commits (`committed_client`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest

import ledger
import points
from api import feeds as feeds_api
from core import clock
from identity import clients
from tests.api.test_client_credentials import basic
from tests.helpers import problem_of
from tests.points_actors import make_resident, make_staff

NOW = datetime.fromisoformat("2026-12-01T10:00:00+08:00")
URL = "/v1/feeds/garbage-sorting/batches"
NDJSON = {"Content-Type": "application/x-ndjson"}


@dataclass
class Setup:
    machine: dict[str, str]
    resident_id: uuid.UUID
    resident: dict[str, str]
    staff: dict[str, str]


@pytest.fixture
async def setup(committed_client, committed_db, redis) -> Setup:
    with clock.frozen(NOW):
        async with committed_db.unit_of_work() as session:
            text = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
            await points.publish_behaviours(session, document=text, published_by="test")
            resident = await make_resident(session)
            staff = await make_staff(session, "zhang.min", [("awarder", "*")])
            machine, secret = await clients.register(
                session,
                name="Sorting machines",
                redirect_uris=[],
                scopes=["feed:garbage-sorting"],
                auth_method="client_secret_basic",
                jwks=None,
            )
        answer = await committed_client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers=basic(machine.client_id, secret or ""),
        )
    assert answer.status_code == 200, answer.text
    bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return Setup(bearer, resident.id, resident.headers, staff.headers)


@pytest.fixture(autouse=True)
def frozen_now():
    with clock.frozen(NOW):
        yield


def batch(resident_id: uuid.UUID, *ids: str) -> bytes:
    return b"".join(
        json.dumps(
            {
                "record_id": record_id,
                "resident": str(resident_id),
                "behaviour": "garbage-sorting",
                "quantity": 1,
                "occurred_at": "2026-12-01T09:00:00+08:00",
                "community": "songling",
            }
        ).encode()
        + b"\n"
        for record_id in ids
    )


async def test_a_batch_is_imported_once_however_often_it_is_sent(
    committed_client, committed_db, setup
) -> None:
    body = batch(setup.resident_id, "m-1", "m-2", "m-3") + b"\xff\xfe garbage\n"
    headers = {**setup.machine, **NDJSON}

    first = await committed_client.post(URL, content=body, headers=headers)
    again = await committed_client.post(URL, content=body, headers=headers)

    assert first.status_code == 200, first.text
    report = first.json()
    assert {k: report[k] for k in ("rows", "imported", "duplicates", "failed", "points")} == {
        "rows": 4,
        "imported": 2,
        "duplicates": 0,
        "failed": 2,
        "points": 4,
    }
    assert [(e["line"], e["reason"]) for e in report["errors"]] == [
        (3, "cap-reached"),
        (4, "invalid-row"),
    ]
    assert again.status_code == 200
    assert (again.json()["imported"], again.json()["duplicates"]) == (0, 2)
    async with committed_db.unit_of_work() as session:
        wallet = await ledger.get_account(session, code=f"resident:{setup.resident_id}")
        assert wallet.balance == 4
        assert (await ledger.verify(session)).ok


async def test_a_time_beyond_utc_fails_its_row_only(committed_client, setup) -> None:
    """occurred_at that no UTC instant matches is that row's error (it was a 500 for the
    whole batch, from the conversion to UTC)."""
    rows = [json.loads(line) for line in batch(setup.resident_id, "t-1", "t-2").splitlines()]
    rows[0]["occurred_at"] = "9999-12-31T23:59:59-14:00"
    body = "".join(json.dumps(row) + "\n" for row in rows).encode()

    response = await committed_client.post(URL, content=body, headers={**setup.machine, **NDJSON})

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["imported"], report["failed"]) == (1, 1)
    [error] = report["errors"]
    assert (error["line"], error["record_id"], error["reason"]) == (1, "t-1", "invalid-row")
    assert error["message"].startswith("occurred_at:")


async def test_a_csv_batch(committed_client, setup) -> None:
    body = (
        "record_id,resident,behaviour,quantity,occurred_at,community\n"
        f"c-1,{setup.resident_id},recyclables-exchange,2,2026-12-01T09:00:00+08:00,songling\n"
    ).encode()

    answer = await committed_client.post(
        URL, content=body, headers={**setup.machine, "Content-Type": "text/csv; charset=utf-8"}
    )

    assert answer.status_code == 200, answer.text
    assert (answer.json()["imported"], answer.json()["points"]) == (1, 6)


async def test_only_the_feeds_own_machine_may_send(committed_client, setup) -> None:
    body = batch(setup.resident_id, "x-1")

    nobody = await committed_client.post(URL, content=body, headers=NDJSON)
    resident = await committed_client.post(URL, content=body, headers={**setup.resident, **NDJSON})
    staff = await committed_client.post(URL, content=body, headers={**setup.staff, **NDJSON})
    other_feed = await committed_client.post(
        "/v1/feeds/public-bike/batches", content=body, headers={**setup.machine, **NDJSON}
    )

    assert nobody.status_code == 401
    assert resident.status_code == 403
    assert problem_of(resident)["type"].endswith("insufficient-scope")
    assert staff.status_code == 403
    assert other_feed.status_code == 403


async def test_batches_that_cannot_be_read(committed_client, setup, monkeypatch) -> None:
    headers = setup.machine
    no_type = await committed_client.post(URL, content=b"{}", headers=headers)
    no_header = await committed_client.post(
        URL, content=b"1,2,3\n", headers={**headers, "Content-Type": "text/csv"}
    )
    huge_line = await committed_client.post(
        URL, content=b"7" * (10 * 1024 * 1024), headers={**headers, **NDJSON}
    )
    monkeypatch.setattr(feeds_api, "MAX_BATCH_BYTES", 1000)
    too_big = await committed_client.post(URL, content=b"\n" * 1001, headers={**headers, **NDJSON})
    monkeypatch.setattr(feeds_api, "MAX_BATCH_BYTES", 10 * 1024 * 1024)
    monkeypatch.setattr(feeds_api, "MAX_BATCH_ROWS", 2)
    too_many = await committed_client.post(
        URL, content=b"{}\n{}\n{}\n", headers={**headers, **NDJSON}
    )

    assert problem_of(no_type)["type"].endswith("invalid-feed-batch")
    assert no_type.status_code == 422
    assert problem_of(no_header)["type"].endswith("invalid-feed-batch")
    assert huge_line.status_code == 200
    assert huge_line.json()["errors"][0]["reason"] == "invalid-row"
    assert too_big.status_code == 413
    assert problem_of(too_big)["max_bytes"] == 1000
    assert too_many.status_code == 413
