"""Who is calling: the bearer access token verified into a Principal, and scope checks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import Session
from api.idempotency import idempotent
from core.redis import get_redis
from identity import tokens
from identity.clients import STAFF_CLIENT_ID
from identity.errors import InsufficientRole, InsufficientScope, InvalidToken, NotAuthenticated
from identity.models import StaffRole
from identity.sessions import API_AUDIENCE
from identity.staff import EVERYWHERE
from mobile_contract.problems import raises

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AccessToken",
    bearerFormat="JWT",
    description="A resident's access token: from sign-in, `/oauth2/token` or the device grant.",
)
_staff_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="StaffToken",
    bearerFormat="JWT",
    description="A staff member's access token, from `POST /v1/staff/sessions`.",
)


@dataclass(frozen=True)
class Principal:
    subject: str
    session_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]
    assurance: str
    channel: str

    @property
    def resident_id(self) -> uuid.UUID:
        return uuid.UUID(self.subject)

    @property
    def idempotency_scope(self) -> str:
        """Whose Idempotency-Keys these are: this subject through this client."""
        return f"{self.client_id}:{self.subject}"


@raises(NotAuthenticated, InvalidToken)
async def current_principal(
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller; 401 without a valid, unrevoked access token."""
    if credentials is None:
        raise NotAuthenticated("Sign in: this needs an access token (Authorization: Bearer).")
    claims = await tokens.verify_access_token(
        session, credentials.credentials, audience=API_AUDIENCE, redis=get_redis()
    )
    return Principal(
        subject=claims.sub,
        session_id=claims.sid,
        client_id=claims.client_id,
        scopes=frozenset(claims.scope.split()),
        assurance=claims.assurance,
        channel=claims.channel,
    )


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if their token carries `scope`; 403 otherwise."""

    @raises(InsufficientScope)
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise InsufficientScope(f"This needs the {scope!r} scope.", scope=scope)
        return principal

    return dependency


resident = require("profile")
CurrentResident = Annotated[Principal, Depends(resident)]
# Reading points, history and vouchers: the app, and TV boxes (whose tokens lack `profile`).
PointsReader = Annotated[Principal, Depends(require("points:read"))]


# --- staff -----------------------------------------------------------------------------------
# Staff tokens come only from POST /v1/staff/sessions (password + TOTP): channel `staff`, acr
# `staff-mfa`, scope `staff`, and a `roles` claim of {role, community} pairs re-read from the
# grants at every issue. Residents' tokens have none of these, so they never pass a staff check;
# staff tokens lack the `profile` scope, so they never pass CurrentResident.
#
# Roles do not imply one another, `admin` included: admin manages staff accounts, and an admin
# who should also award points needs the `awarder` grant too. `*` as community means district-
# wide: the role holds in every community.

STAFF_SCOPE = "staff"


@dataclass(frozen=True)
class StaffPrincipal:
    subject: str
    session_id: uuid.UUID
    roles: frozenset[tuple[str, str]]  # (role, community); community "*" = district-wide

    @property
    def staff_id(self) -> uuid.UUID:
        return uuid.UUID(self.subject)

    @property
    def idempotency_scope(self) -> str:
        return f"staff:{self.subject}"

    def can(self, role: StaffRole, community: str) -> bool:
        """Whether the staff member holds `role` in `community`, or district-wide."""
        return (role.value, community) in self.roles or (role.value, EVERYWHERE) in self.roles

    def holds(self, role: StaffRole) -> bool:
        """Whether the staff member holds `role` in any community."""
        return any(held == role.value for held, _ in self.roles)

    def check(self, role: StaffRole, community: str) -> None:
        """Refuse with 403 `insufficient-role` unless `can(role, community)`."""
        if not self.can(role, community):
            raise InsufficientRole(
                f"This needs the {role.value!r} role in community {community!r}.",
                role=role.value,
                community=community,
            )


@raises(NotAuthenticated, InvalidToken, InsufficientRole)
async def current_staff(
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_staff_bearer)],
) -> StaffPrincipal:
    """The verified staff caller; 401 without a valid token, 403 for a token that is not a staff
    member's (a resident's, a partner's)."""
    if credentials is None:
        raise NotAuthenticated("Sign in: this needs an access token (Authorization: Bearer).")
    claims = await tokens.verify_access_token(
        session, credentials.credentials, audience=API_AUDIENCE, redis=get_redis()
    )
    if (
        claims.channel != "staff"
        or claims.assurance != tokens.STAFF_ACR
        or claims.client_id != STAFF_CLIENT_ID
        or STAFF_SCOPE not in claims.scopes
    ):
        raise InsufficientRole("This needs a staff member's sign-in.")
    return StaffPrincipal(
        subject=claims.sub, session_id=claims.sid, roles=_roles(claims.extra.get("roles"))
    )


def require_staff(role: StaffRole | None = None) -> Callable[..., Awaitable[StaffPrincipal]]:
    """A dependency: the staff caller, if they hold `role` in some community (any staff member
    when `role` is None); 403 `insufficient-role` otherwise. Per-community checks are the
    handler's, with `StaffPrincipal.check(role, community)`."""

    @raises(InsufficientRole)
    async def dependency(
        staff: Annotated[StaffPrincipal, Depends(current_staff)],
    ) -> StaffPrincipal:
        if role is not None and not staff.holds(role):
            raise InsufficientRole(f"This needs the {role.value!r} role.", role=role.value)
        return staff

    return dependency


def _roles(claim: object) -> frozenset[tuple[str, str]]:
    # Our own signed claim, but read strictly: anything unexpected grants nothing.
    if not isinstance(claim, list):
        return frozenset()
    return frozenset(
        (item["role"], item["community"])
        for item in claim
        if isinstance(item, dict)
        and isinstance(item.get("role"), str)
        and isinstance(item.get("community"), str)
    )


staff_member = require_staff()
CurrentStaff = Annotated[StaffPrincipal, Depends(staff_member)]

# Idempotency-Key on residents' and staff members' writes (api.idempotency): required where a
# retry without it would create or move something twice, optional elsewhere.
ResidentKey = idempotent(resident, required=True)
OptionalResidentKey = idempotent(resident, required=False)
StaffKey = idempotent(staff_member, required=True)
