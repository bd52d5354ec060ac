"""Request-scoped dependencies shared by every router."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import get_database


async def get_session() -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the handler returns, rolled back on error."""
    async with get_database().unit_of_work() as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is never reported
# to the client as a success (FastAPI's default would commit after sending).
Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def caller_bucket(request: Request) -> str:
    """The caller's address as a rate-limit bucket name: hashed, since an IP is personal data."""
    address = request.client.host if request.client else "unknown"
    return hashlib.sha256(address.encode()).hexdigest()[:32]
