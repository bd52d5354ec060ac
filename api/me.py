"""The signed-in resident's own account: profile, real name, password, sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

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
    # 11010519491231002X is the sample number of the GB 11643 standard itself, not anyone's.
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "张三", "id_number": "11010519491231002X"}]}
    )

    name: str = Field(min_length=1, max_length=50, description="Exactly as on the ID card.")
    id_number: str = Field(
        min_length=1, max_length=32, description="18-character resident ID number (GB 11643)."
    )


class PasswordIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"password": "taihu-lake-2025"}]})

    password: str = Field(
        min_length=1,
        max_length=256,
        description="8-128 characters, at least 4 different ones, not only digits.",
    )


class SignedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"sessions_ended": 3}]})

    sessions_ended: int


class LanguageIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"language": "en"}]})

    language: Language


@router.get("", summary="My profile")
async def my_profile(session: Session, me: CurrentResident) -> ResidentProfile:
    """The resident's profile; phone, name and ID number masked. `assurance` says which
    services the resident may use (some need `real_name`)."""
    return await residents.profile(session, resident_id=me.resident_id)


@router.post("/real-name", summary="Verify my real name")
@raises(IdNumberTaken, InvalidIdNumber, RealNameMismatch, VerificationUnavailable)
async def verify_my_real_name(
    body: RealNameIn,
    session: Session,
    me: CurrentResident,
    _key: Annotated[str | None, OptionalResidentKey],
) -> RealNameResult:
    """Verify name and ID number (GB 11643 and the national verification service): assurance
    becomes `real_name` (L2), or stays `in_person` if it was. `invalid-id-number` says which
    rule the number breaks (`reason`); `real-name-mismatch`: the pair does not match the
    national record; `id-number-taken`: the number is verified on another account.
    `503 verification-unavailable`: try again later."""
    return await residents.verify_real_name(
        session,
        real_name_verifier(get_settings()),
        resident_id=me.resident_id,
        name=body.name,
        id_number=body.id_number,
    )


@router.put("/password", status_code=status.HTTP_204_NO_CONTENT, summary="Set my password")
@raises(WeakPassword)
async def set_my_password(body: PasswordIn, session: Session, me: CurrentResident) -> None:
    """Set or change the optional password for signing in without a text message. Sessions
    stay signed in."""
    await residents.set_password(session, resident_id=me.resident_id, password=body.password)


@router.get("/sessions", summary="Where I am signed in")
async def my_sessions(session: Session, me: CurrentResident, page: Paging) -> SessionPage:
    """The resident's live sessions (devices and channels: the app, TV boxes, partner apps),
    most recently used first."""
    return page_of(
        SessionPage,
        await sessions.list_sessions(session, subject=me.subject),
        key=lambda s: time_key(s.last_used_at, s.id),
        kind="s",
        page=page,
        descending=True,
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign one device out",
)
@raises(SessionNotFound)
async def end_my_session(session_id: uuid.UUID, session: Session, me: CurrentResident) -> None:
    """Sign one device out; only the resident's own sessions can be ended. Ending one already
    ended is a success too."""
    await sessions.revoke(session, get_redis(), session_id=session_id, subject=me.subject)


@router.post("/sessions/revoke-all", summary="Sign out everywhere")
async def sign_out_everywhere(
    session: Session, me: CurrentResident, _key: Annotated[str | None, OptionalResidentKey]
) -> SignedOut:
    """Sign out on every device, this one included: this token stops working too, so go back
    to the sign-in screen."""
    ended = await sessions.revoke_all(session, get_redis(), subject=me.subject)
    return SignedOut(sessions_ended=ended)


@router.put("/language", summary="Set my language")
async def set_my_language(
    body: LanguageIn, session: Session, me: CurrentResident
) -> ResidentProfile:
    """The language of the resident's text messages and notices (`zh` or `en`); the updated
    profile."""
    return await residents.set_language(session, resident_id=me.resident_id, language=body.language)
