"""The request owns the transaction: committed when the handler returns, rolled back on error."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from api.app import create_app
from api.deps import Session
from core import clock
from core.db import Database
from core.errors import DomainError
from core.settings import Settings
from ledger.models import Account


class Refused(DomainError):
    type = "refused"
    status = 409


@pytest.fixture
async def committing_client(
    settings: Settings, committed_db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    """The real `get_session` (no override): what production does."""
    app = create_app(settings)

    @app.post("/test/accounts/{code}")
    async def open_account(code: str, session: Session, refuse: bool = False) -> None:
        session.add(Account(id=uuid.uuid4(), code=code, asset="PTS", created_at=clock.now()))
        await session.flush()
        if refuse:
            raise Refused("Refused after writing.")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _codes(database: Database) -> set[str]:
    async with database.unit_of_work() as session:
        return set((await session.execute(select(Account.code))).scalars())


async def test_session_commits_when_the_handler_returns(
    committing_client: httpx.AsyncClient, committed_db: Database
) -> None:
    response = await committing_client.post("/test/accounts/kept")

    assert response.status_code == 200
    assert await _codes(committed_db) == {"kept"}


async def test_session_rolls_back_when_the_handler_raises(
    committing_client: httpx.AsyncClient, committed_db: Database
) -> None:
    response = await committing_client.post("/test/accounts/dropped", params={"refuse": True})

    assert response.status_code == 409
    assert await _codes(committed_db) == set()


async def test_client_requests_share_the_tests_session(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seen: list[AsyncSession] = []

    @app.get("/test/session")
    async def which(request_session: Session) -> None:
        seen.append(request_session)

    await client.get("/test/session")

    assert seen == [session]
