"""Resident sign-in for the app: SMS one-time codes and passwords; token refresh; sign-out."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request, status
from pydantic import BaseModel, Field

from api.deps import Session, caller_bucket
from api.principal import Principal, current_principal
from api.routing import contract_router
from core.ratelimit import hit
from core.redis import get_redis
from core.settings import get_settings
from identity import otp, residents, sessions
from identity.clients import APP_CLIENT_ID
from identity.errors import CodeExpired, InvalidCredentials, InvalidPhone, ResendTooSoon, WrongCode
from identity.models import Resident
from identity.schemas import TokenResponse
from identity.sms import sms_sender
from mobile_contract.problems import raises

router = contract_router(prefix="/v1/auth", tags=["app"])

APP_SCOPE = "profile sessions points:read"
SIGN_IN = "sign-in"


class CodeRequest(BaseModel):
    phone: str = Field(max_length=32, examples=["13812345678"])
    language: Literal["zh", "en"] = "zh"


class CodeSentOut(BaseModel):
    expires_in: int
    resend_after: int


class SmsSignIn(BaseModel):
    phone: str = Field(max_length=32)
    code: str = Field(min_length=1, max_length=12)
    device_name: str | None = Field(default=None, max_length=200)


class PasswordSignIn(BaseModel):
    phone: str = Field(max_length=32)
    password: str = Field(min_length=1, max_length=256)
    device_name: str | None = Field(default=None, max_length=200)


@router.post("/sms-codes", status_code=status.HTTP_202_ACCEPTED)
@raises(InvalidPhone, ResendTooSoon)
async def send_sign_in_code(body: CodeRequest, request: Request) -> CodeSentOut:
    """Text a 6-digit sign-in code to the phone (at most one a minute)."""
    redis = get_redis()
    key = residents.phone_key(body.phone)
    await hit(redis, bucket=f"sms-code:ip:{caller_bucket(request)}", limit=20, window_seconds=3600)
    await hit(redis, bucket=f"sms-code:phone:{key}", limit=10, window_seconds=86400)
    sent = await otp.send_code(
        redis,
        sms_sender(get_settings()),
        key=key,
        phone=body.phone,
        purpose=SIGN_IN,
        language=body.language,
    )
    return CodeSentOut(expires_in=sent.expires_in, resend_after=sent.resend_after)


@router.post("/sessions/sms", status_code=status.HTTP_201_CREATED)
@raises(CodeExpired, WrongCode)
async def sign_in_with_code(body: SmsSignIn, request: Request, session: Session) -> TokenResponse:
    """Sign in (or sign up) with the phone and its code: a new session and its tokens."""
    redis = get_redis()
    key = residents.phone_key(body.phone)
    await hit(redis, bucket=f"sign-in:ip:{caller_bucket(request)}", limit=60, window_seconds=3600)
    await otp.verify_code(redis, key=key, purpose=SIGN_IN, code=body.code)
    resident, _ = await residents.find_or_create_by_phone(session, phone=body.phone)
    return await _start(session, resident, body.device_name)


@router.post("/sessions/password", status_code=status.HTTP_201_CREATED)
@raises(InvalidCredentials)
async def sign_in_with_password(
    body: PasswordSignIn, request: Request, session: Session
) -> TokenResponse:
    """Sign in with the phone and the resident's own password."""
    redis = get_redis()
    await hit(redis, bucket=f"sign-in:ip:{caller_bucket(request)}", limit=60, window_seconds=3600)
    try:
        key = residents.phone_key(body.phone)
    except InvalidPhone:  # an invalid number gets the same answer as a wrong password
        key = "invalid"
    await hit(redis, bucket=f"password:phone:{key}", limit=10, window_seconds=900)
    resident = await residents.check_password(session, phone=body.phone, password=body.password)
    return await _start(session, resident, body.device_name)


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    session: Session, principal: Annotated[Principal, Depends(current_principal)]
) -> None:
    """End the session this token belongs to."""
    await sessions.revoke(session, get_redis(), session_id=principal.session_id)


async def _start(session: Session, resident: Resident, device_name: str | None) -> TokenResponse:
    return await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident.id),
        client_id=APP_CLIENT_ID,
        channel="app",
        assurance=resident.assurance,
        scope=APP_SCOPE,
        device_name=device_name,
    )
