"""The signed-in resident's own account: profile, real name, password, sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import status
from pydantic import BaseModel, Field

from api.deps import Session
from api.pagination import Paging, page_of
from api.principal import CurrentResident, OptionalResidentKey
from api.routing import contract_router
from core.pagination import time_key
from core.redis import get_redis
from core.settings import get_settings
from identity import residents, sessions
from identity.errors import (
    IdNumberTaken,
    InvalidIdNumber,
    RealNameMismatch,
    SessionNotFound,
    VerificationUnavailable,
    WeakPassword,
)
from identity.otp import Language
from identity.schemas import RealNameResult, ResidentProfile, SessionPage
from identity.verification import real_name_verifier
from mobile_contract.problems import raises

router = contract_router(prefix="/v1/me", tags=["app"])


class RealNameIn(BaseModel):
    name: str = Field(min_length=1, max_length=50, examples=["张三"])
    id_number: str = Field(min_length=1, max_length=32, examples=["11010519491231002X"])


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class SignedOut(BaseModel):
    sessions_ended: int


class LanguageIn(BaseModel):
    language: Language


@router.get("")
async def my_profile(session: Session, me: CurrentResident) -> ResidentProfile:
    """The resident's profile; phone, name and ID number masked."""
    return await residents.profile(session, resident_id=me.resident_id)


@router.post("/real-name")
@raises(IdNumberTaken, InvalidIdNumber, RealNameMismatch, VerificationUnavailable)
async def verify_my_real_name(
    body: RealNameIn,
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> RealNameResult:
    """Verify name and ID number (GB 11643 and the verification service): assurance L2."""
    return await residents.verify_real_name(
        session,
        real_name_verifier(get_settings()),
        resident_id=me.resident_id,
        name=body.name,
        id_number=body.id_number,
    )


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT)
@raises(WeakPassword)
async def set_my_password(body: PasswordIn, session: Session, me: CurrentResident) -> None:
    """Set or change the optional password."""
    await residents.set_password(session, resident_id=me.resident_id, password=body.password)


@router.get("/sessions")
async def my_sessions(session: Session, me: CurrentResident, page: Paging) -> SessionPage:
    """Where the resident is signed in (devices and channels), most recently used first."""
    items, next_cursor = page_of(
        await sessions.list_sessions(session, subject=me.subject),
        key=lambda s: time_key(s.last_used_at, s.id),
        kind="s",
        page=page,
        descending=True,
    )
    return SessionPage(items=items, next_cursor=next_cursor)


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
@raises(SessionNotFound)
async def end_my_session(session_id: uuid.UUID, session: Session, me: CurrentResident) -> None:
    """Sign one device out; only the resident's own sessions can be ended."""
    await sessions.revoke(session, get_redis(), session_id=session_id, subject=me.subject)


@router.post("/sessions/revoke-all")
async def sign_out_everywhere(
    session: Session, me: CurrentResident, _key: Annotated[str | None, OptionalResidentKey]
) -> SignedOut:
    """Sign out on every device, this one included."""
    ended = await sessions.revoke_all(session, get_redis(), subject=me.subject)
    return SignedOut(sessions_ended=ended)


@router.put("/language")
async def set_my_language(
    body: LanguageIn, session: Session, me: CurrentResident
) -> ResidentProfile:
    """The language of the resident's text messages and notices (`zh` or `en`)."""
    return await residents.set_language(session, resident_id=me.resident_id, language=body.language)
