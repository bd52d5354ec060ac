"""Resident sign-in for the app: SMS one-time codes and passwords; token refresh; sign-out."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Session, caller_bucket
from api.principal import Principal, current_principal
from api.routing import contract_router
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from core.settings import get_settings
from identity import otp, residents, sessions
from identity.clients import APP_CLIENT_ID
from identity.errors import (
    CodeExpired,
    InvalidCredentials,
    InvalidPhone,
    ResendTooSoon,
    SmsUnavailable,
    TooManyAttempts,
    WrongCode,
)
from identity.models import Resident
from identity.schemas import TokenResponse
from identity.sms import sms_sender
from mobile_contract.problems import raises

router = contract_router(prefix="/v1/auth", tags=["app"])

APP_SCOPE = "profile sessions points:read"
SIGN_IN = "sign-in"


# An example number, not anyone's: 13800138000 is the number every Chinese manual uses.
EXAMPLE_PHONE = "13800138000"
PHONE_FIELD = Field(
    max_length=32,
    description="A mainland mobile number: 11 digits, optionally with +86, spaces or hyphens.",
)
DEVICE_NAME_FIELD = Field(
    default=None,
    max_length=200,
    description="How the resident's session list will name this device.",
)


class CodeRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"phone": EXAMPLE_PHONE, "language": "zh"}]}
    )

    phone: str = PHONE_FIELD
    language: Literal["zh", "en"] = Field(default="zh", description="Of the text message.")


class CodeSentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"expires_in": 300, "resend_after": 60}]}
    )

    expires_in: int = Field(description="Seconds the code is valid.")
    resend_after: int = Field(description="Seconds before another code may be asked for.")


class SmsSignIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"phone": EXAMPLE_PHONE, "code": "372914", "device_name": "华为 Mate 60 Pro"}
            ]
        }
    )

    phone: str = PHONE_FIELD
    code: str = Field(min_length=1, max_length=12, description="The 6 digits texted.")
    device_name: str | None = DEVICE_NAME_FIELD


class PasswordSignIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "phone": EXAMPLE_PHONE,
                    "password": "taihu-lake-2025",
                    "device_name": "iPhone 15",
                }
            ]
        }
    )

    phone: str = PHONE_FIELD
    password: str = Field(min_length=1, max_length=256)
    device_name: str | None = DEVICE_NAME_FIELD


@router.post("/sms-codes", status_code=status.HTTP_202_ACCEPTED, summary="Text me a sign-in code")
@raises(InvalidPhone, ResendTooSoon, RateLimited, SmsUnavailable)
async def send_sign_in_code(body: CodeRequest, request: Request) -> CodeSentOut:
    """Text a 6-digit sign-in code to the phone: valid 5 minutes, one a minute (`429
    otp-resend-too-soon` with `retry_after`), at most 10 a day per phone. A new code replaces
    the previous one. `503 sms-unavailable`: nothing was sent, ask again at once."""
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


@router.post(
    "/sessions/sms", status_code=status.HTTP_201_CREATED, summary="Sign in with a texted code"
)
@raises(CodeExpired, WrongCode, TooManyAttempts, InvalidPhone, RateLimited)
async def sign_in_with_code(body: SmsSignIn, request: Request, session: Session) -> TokenResponse:
    """Sign in (or sign up: a new number gets a new account at assurance `phone`) with the phone
    and its code: a new session and its tokens. A code works once. `otp-wrong` says how many
    `attempts_left`; after 5 wrong codes the code is burned (`otp-locked`): ask for a new one."""
    redis = get_redis()
    key = residents.phone_key(body.phone)
    await hit(redis, bucket=f"sign-in:ip:{caller_bucket(request)}", limit=60, window_seconds=3600)
    await otp.verify_code(redis, key=key, purpose=SIGN_IN, code=body.code)
    resident, _ = await residents.find_or_create_by_phone(session, phone=body.phone)
    return await _start(session, resident, body.device_name)


@router.post(
    "/sessions/password", status_code=status.HTTP_201_CREATED, summary="Sign in with a password"
)
@raises(InvalidCredentials, RateLimited)
async def sign_in_with_password(
    body: PasswordSignIn, request: Request, session: Session
) -> TokenResponse:
    """Sign in with the phone and the resident's own password (set under my password). One
    refusal, `invalid-credentials`, for every kind of wrong; 10 tries per phone every 15
    minutes."""
    redis = get_redis()
    await hit(redis, bucket=f"sign-in:ip:{caller_bucket(request)}", limit=60, window_seconds=3600)
    try:
        key = residents.phone_key(body.phone)
    except InvalidPhone:  # an invalid number gets the same answer as a wrong password
        key = "invalid"
    await hit(redis, bucket=f"password:phone:{key}", limit=10, window_seconds=900)
    resident = await residents.check_password(session, phone=body.phone, password=body.password)
    return await _start(session, resident, body.device_name)


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
async def sign_out(
    session: Session, principal: Annotated[Principal, Depends(current_principal)]
) -> None:
    """End the session this token belongs to: its refresh token stops at once, its access
    tokens on their next use, and this device gets no more push notices."""
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
