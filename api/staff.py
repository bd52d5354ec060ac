"""Staff sign-in (password plus TOTP) and the staff member's own view of their roles.

`GET /v1/staff/communities/{community}/check` is the role-in-community check the points
programme's staff actions (awarding, approving) will run before they act: it answers exactly what
`StaffPrincipal.check` decides, so operators and tests can see it over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import structlog
from fastapi import Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Session, caller_bucket
from api.idempotency import idempotent
from api.principal import (
    STAFF_SCOPE,
    CurrentStaff,
    StaffPrincipal,
    require_staff,
)
from api.routing import contract_router
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from core.settings import get_keyring
from identity import residents, sessions, staff
from identity.clients import STAFF_CLIENT_ID
from identity.errors import (
    IdNumberTaken,
    InvalidCredentials,
    InvalidIdNumber,
    InvalidPhone,
    RealNameMismatch,
    ResidentNotFound,
)
from identity.models import StaffRole
from identity.schemas import ResidentProfile, TokenResponse
from identity.tokens import STAFF_ACR
from mobile_contract.problems import raises

router = contract_router(prefix="/v1/staff", tags=["staff"])
log = structlog.get_logger(__name__)


class StaffSignIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "li.wei",
                    "password": "songling-desk-7",
                    "totp_code": "493027",
                    "device_name": "松陵街道社区服务中心 2号窗口",
                }
            ]
        }
    )

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    totp_code: str = Field(
        min_length=1, max_length=12, description="The 6 digits of the authenticator app."
    )
    device_name: str | None = Field(default=None, max_length=200)


class GrantOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"role": "awarder", "community": "songling"}]}
    )

    role: str = Field(description="A staff role: awarder, approver, merchant_cashier, …")
    community: str = Field(description="A community code, or `*` for district-wide.")


class StaffMe(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f506",
                    "username": "li.wei",
                    "display_name": "李伟",
                    "grants": [
                        {"role": "approver", "community": "songling"},
                        {"role": "awarder", "community": "songling"},
                        {"role": "counter_clerk", "community": "tongli"},
                    ],
                    "created_at": "2024-09-18T01:30:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    username: str
    display_name: str
    grants: list[GrantOut]
    created_at: datetime


class RoleCheck(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"allowed": True, "role": "awarder", "community": "songling"}]
        }
    )

    allowed: bool = Field(description="Always `true`: a refusal is `403 insufficient-role`.")
    role: str
    community: str


@router.post("/sessions", status_code=status.HTTP_201_CREATED, summary="Staff sign-in")
@raises(InvalidCredentials, RateLimited)
async def staff_sign_in(body: StaffSignIn, request: Request, session: Session) -> TokenResponse:
    """Sign a staff member in with username, password and authenticator code; a staff session
    whose access tokens carry the member's roles (`roles`: [{role, community}]). One refusal,
    `invalid-credentials`, for every kind of wrong (a code works once); 10 tries per username
    every 15 minutes. Refresh at `/oauth2/token` with `client_id=wujiang-staff`: each refresh
    re-reads the roles."""
    redis = get_redis()
    username_key = get_keyring().blind_index(body.username.lower(), context="staff.username")
    await hit(
        redis, bucket=f"staff-sign-in:ip:{caller_bucket(request)}", limit=30, window_seconds=900
    )
    await hit(redis, bucket=f"staff-sign-in:user:{username_key}", limit=10, window_seconds=900)
    member = await staff.authenticate(
        session, username=body.username, password=body.password, totp_code=body.totp_code
    )
    return await sessions.start(
        session,
        subject_type="staff",
        subject=str(member.id),
        client_id=STAFF_CLIENT_ID,
        channel="staff",
        assurance=STAFF_ACR,
        scope=STAFF_SCOPE,
        device_name=body.device_name,
    )


@router.get("/me", summary="Me, as a staff member")
async def staff_me(session: Session, caller: CurrentStaff) -> StaffMe:
    """The signed-in staff member and their current grants (any role). Grants changed since
    the token was issued show here; the token's own roles change at its next refresh."""
    found = await staff.summary(session, staff_id=caller.staff_id)
    return StaffMe(
        id=found.id,
        username=found.username,
        display_name=found.display_name,
        grants=[GrantOut(role=role, community=community) for role, community in found.grants],
        created_at=found.created_at,
    )


@router.get("/communities/{community}/check", summary="Check my role in a community")
async def check_role(
    caller: CurrentStaff,
    community: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$", examples=["songling"])],
    role: Annotated[StaffRole, Query()],
) -> RoleCheck:
    """200 `{allowed: true}` if the token holds `role` in `community` (or district-wide, `*`);
    403 `insufficient-role` otherwise. Judged on the token's claims, as every staff action is."""
    caller.check(role, community)
    return RoleCheck(allowed=True, role=role.value, community=community)


class CounterLookup(BaseModel):
    """Either the phone or the ID number (the phone wins if both are given)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"phone": "13800138000"}, {"id_number": "11010519491231002X"}]
        }
    )

    phone: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=32)


class InPersonCheck(BaseModel):
    """Name and number as printed on the ID card the clerk holds."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "张三", "id_number": "11010519491231002X"}]}
    )

    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=1, max_length=32)


counter_clerk = require_staff(StaffRole.COUNTER_CLERK)
CounterClerk = Annotated[StaffPrincipal, Depends(counter_clerk)]
OptionalClerkKey = idempotent(counter_clerk, required=False)


@router.post("/residents/lookup", summary="Find a resident at the counter")
@raises(ResidentNotFound, InvalidPhone, InvalidIdNumber, RateLimited)
async def find_resident(
    body: CounterLookup, session: Session, clerk: CounterClerk
) -> ResidentProfile:
    """At the counter: find a resident by phone or ID number (masked profile). Needs the
    `counter_clerk` role; 120 look-ups per clerk an hour."""
    await hit(get_redis(), bucket=f"counter-lookup:{clerk.subject}", limit=120, window_seconds=3600)
    return await residents.find_for_counter(session, phone=body.phone, id_number=body.id_number)


@router.post("/residents/{resident_id}/in-person", summary="Verify a resident in person")
@raises(ResidentNotFound, InvalidIdNumber, RealNameMismatch, IdNumberTaken)
async def verify_resident_in_person(
    resident_id: uuid.UUID,
    body: InPersonCheck,
    session: Session,
    clerk: CounterClerk,
    _key: Annotated[str | None, OptionalClerkKey],
) -> ResidentProfile:
    """The clerk saw the resident's ID card: assurance becomes `in_person` (L3), and the name
    and number are bound to the account. `real-name-mismatch` if the card differs from the
    identity already verified on the account; `id-number-taken` if the number is verified on
    another account."""
    log.info("staff.in_person_verified", staff=clerk.subject, resident_id=str(resident_id))
    return await residents.verify_in_person(
        session, resident_id=resident_id, name=body.name, id_number=body.id_number
    )
