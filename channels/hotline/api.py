"""The 12345 hotline API: the call-centre system's agent desktop and IVR call us.

Every `/v1/hotline` request is signed with a shared key (HMAC-SHA256 over timestamp, nonce,
method, path and body hash; see `channels.hotline.signing` for the exact string). Agents see
residents' personal data masked; the IVR gets ready-to-speak Chinese text (`speech`), also in
the problem+json of a refusal it should read out (`wrong-pin`, `card-locked`...).

- `POST /v1/hotline/calls` `{caller_number}`: who is calling (masked), balance, open tickets
- `POST /v1/hotline/ivr/verify` `{caller_number, card_last4, pin}`: an `ivr_session` for 5 min
- `GET /v1/hotline/ivr/balance | latest-award | expiring` with `X-IVR-Session`: `{speech}`
- `POST /v1/hotline/ivr/report-lost` with `X-IVR-Session`: the card is lost at once
- `POST /v1/hotline/tickets`, `GET /v1/hotline/tickets/{number}`,
  `POST /v1/hotline/tickets/{number}/status`, `POST /v1/hotline/tickets/{number}/rating`

And for residents in the app (an ordinary access token): `GET /v1/me/tickets`.

Every request a resident makes (the IVR) or an agent makes for them lands in their digital
footprint with channel `hotline`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Depends, Path, Request, Response, Security, status
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, model_validator

import points
import tickets
from api.deps import Session
from api.idempotency import idempotent
from api.pagination import Paging
from api.principal import CurrentResident
from api.routing import contract_router
from channels.hotline import ivr, signing
from channels.hotline.ivr import IvrSessionExpired, IvrVerificationFailed
from channels.hotline.signing import SignedCall
from citizen_card import cards, pins
from citizen_card.errors import CardLocked, CardNotUsable, PinNotSet, WrongPin
from citizen_card.models import CardStatus
from core.errors import DomainError
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from identity import activity, residents
from identity.errors import InvalidPhone, ResidentNotFound
from identity.schemas import ResidentProfile
from mobile_contract.problems import raises
from tickets.errors import (
    TicketAlreadyRated,
    TicketNotClosed,
    TicketNotFound,
    TicketTransitionInvalid,
)
from tickets.schemas import AgentId, Body, Note, Rating, Subject

CHANNEL = "hotline"
CARD_ACTOR = "hotline"  # who a card event says acted: the caller, through the IVR
IVR_DEVICE = "ivr"
# Per caller number: a caller fumbling the last four digits or the PIN never gets near it; a
# script walking through card endings soon does (the PIN itself locks after 5 wrong).
IVR_TRIES_PER_WINDOW, IVR_TRY_WINDOW = 10, 3600
MAX_TOKEN_LENGTH = 100
NO_STORE = {"Cache-Control": "no-store"}

CallerNumber = Annotated[
    str, Field(min_length=1, max_length=32, description="The calling number as the switch saw it.")
]
TicketNumber = Annotated[str, Path(min_length=1, max_length=24, examples=["WJ20261205-000042"])]
# A made-up number for the examples: a real caller's must never appear in them.
_EXAMPLE_CALLER = "13800005678"


def _signing_header(name: str, description: str) -> APIKeyHeader:
    scheme = name.removeprefix("X-").replace("-", "")
    return APIKeyHeader(name=name, scheme_name=scheme, description=description, auto_error=False)


# Declared so that the contract documents them as the hotline's security (all four together);
# `signing.verify` reads them from the request itself, next to the raw body they sign.
_SIGNING = (
    _signing_header(signing.KEY_HEADER, "The id of the shared key that signed the request."),
    _signing_header(signing.TIMESTAMP_HEADER, "Unix seconds when the request was signed."),
    _signing_header(signing.NONCE_HEADER, "16-64 of `A-Za-z0-9_-`, new for every request."),
    _signing_header(
        signing.SIGNATURE_HEADER,
        "Hex HMAC-SHA256 over `timestamp\\nnonce\\nMETHOD\\npath?query\\nsha256(body)`.",
    ),
)


@raises(
    signing.SignatureInvalid,
    signing.RequestExpired,
    signing.Replayed,
    signing.HotlineNotConfigured,
)
async def signed_call(
    request: Request,
    _key: Annotated[str | None, Security(_SIGNING[0])],
    _timestamp: Annotated[str | None, Security(_SIGNING[1])],
    _nonce: Annotated[str | None, Security(_SIGNING[2])],
    _signature: Annotated[str | None, Security(_SIGNING[3])],
) -> SignedCall:
    """The verified call-centre request; 401 `hotline-signature-invalid`, `-request-expired` or
    `-replay`, or 503 `hotline-not-configured`. The body is read once and kept for the handler."""
    keys = signing.configured_keys()
    body = await request.body()
    return await signing.verify(
        get_redis(),
        keys,
        headers=request.headers,
        method=request.method,
        path=_signed_path(request),
        body=body,
    )


def _signed_path(request: Request) -> str:
    # The path as sent (percent-encoding kept), plus the query string if any.
    raw = request.scope.get("raw_path")
    path = raw.split(b"?", 1)[0].decode("latin-1") if raw else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


Signed = Annotated[SignedCall, Depends(signed_call)]
HotlineKey = idempotent(signed_call, required=True)
OptionalHotlineKey = idempotent(signed_call, required=False)
router = contract_router(
    prefix="/v1/hotline", tags=["hotline"], dependencies=[Depends(signed_call)]
)
app_router = contract_router(prefix="/v1/me/tickets", tags=["app"])


async def _footprint(
    session: Session, resident_id: uuid.UUID, action: str, *, device: str, **detail: Any
) -> None:
    await activity.record(
        session,
        resident_id=resident_id,
        channel=CHANNEL,
        device=device,
        action=action,
        detail=detail,
    )


async def _caller(session: Session, number: str | None) -> ResidentProfile | None:
    """The resident whose mobile number is calling; None for a landline or an unknown number."""
    if not number:
        return None
    try:
        return await residents.find_for_counter(session, phone=number)
    except (InvalidPhone, ResidentNotFound):
        return None


@contextmanager
def _spoken() -> Iterator[None]:
    """Refusals leave with a `speech` member the IVR can read out."""
    try:
        yield
    except DomainError as refusal:
        refusal.extensions.setdefault("speech", ivr.refusal(refusal))
        raise


# --- incoming calls --------------------------------------------------------------------------


class CallIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"caller_number": _EXAMPLE_CALLER, "agent": "A1023"}]},
    )

    caller_number: CallerNumber
    agent: AgentId | None = None


class CallerFound(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "found": True,
                    "resident_id": "0199c19f-e2a8-7a41-8c2d-3b4e5f6a7b8c",
                    "name": "张**",
                    "id_number": "3205**********123X",
                    "phone": "138****5678",
                    "assurance": "real_name",
                    "points_balance": 1280,
                    "open_tickets": [
                        {
                            "number": "WJ20261207-000118",
                            "kind": "consultation",
                            "status": "open",
                            "created_at": "2026-12-07T06:48:31.250000Z",
                        }
                    ],
                }
            ]
        }
    )

    found: Literal[True] = True
    resident_id: uuid.UUID
    name: str | None = Field(description="Masked: 张**.")
    id_number: str | None = Field(description="Masked: 3205**********123X.")
    phone: str = Field(description="Masked: 138****5678.")
    assurance: str = Field(description="`phone`, `real_name` or `in_person` (L1 to L3).")
    points_balance: int = Field(description="Points the resident can spend now.")
    open_tickets: list[tickets.TicketBrief] = Field(description="Not yet closed, newest first.")


class CallerUnknown(BaseModel):
    found: Literal[False] = False


@router.post("/calls", summary="Who is calling (masked)")
async def incoming_call(
    session: Session, body: CallIn, call: Signed, response: Response
) -> CallerFound | CallerUnknown:
    """The agent's view of the caller: masked name, ID and phone, assurance, balance and
    unfinished tickets; `{"found": false}` for a number no resident has (a landline, say).
    Recorded in the resident's footprint under the agent's id."""
    response.headers.update(NO_STORE)
    profile = await _caller(session, body.caller_number)
    if profile is None:
        return CallerUnknown()
    summary = await points.points_summary(session, resident_id=profile.id)
    unfinished = await tickets.unfinished_tickets(session, resident_id=profile.id)
    await _footprint(
        session, profile.id, "hotline.lookup", device=body.agent or "call-centre", key=call.kid
    )
    return CallerFound(
        resident_id=profile.id,
        name=profile.name,
        id_number=profile.id_number,
        phone=profile.phone,
        assurance=profile.assurance,
        points_balance=summary.available,
        open_tickets=unfinished,
    )


# --- IVR -------------------------------------------------------------------------------------


class IvrVerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"caller_number": _EXAMPLE_CALLER, "card_last4": "1234", "pin": "385917"}]
        },
    )

    caller_number: CallerNumber
    card_last4: Annotated[str, Field(pattern=r"^[0-9]{4}$", description="Keyed in (DTMF).")]
    pin: Annotated[str, Field(pattern=r"^[0-9]{1,12}$", description="The card PIN (DTMF).")]


class IvrVerified(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ivr_session": "Zr8mQ2xV7kL4pT9wB1nC6dF3hJ0sY5gA8eU2iO7qW4t",
                    "expires_at": "2026-12-08T02:26:40Z",
                    "speech": ivr.VERIFIED,
                }
            ]
        }
    )

    ivr_session: str = Field(description="Send as X-IVR-Session; valid 5 minutes.")
    expires_at: datetime = Field(description="Never extended: verify again after it.")
    speech: str = Field(description="To read out as it is.")


class Speech(BaseModel):
    """A sentence or two of Chinese for the call centre's text-to-speech, read out as it is."""

    speech: str = Field(examples=[ivr.balance(1280)])


def _speaks(text: str) -> dict[int | str, dict[str, Any]]:
    """The documented answer of an IVR operation: `Speech` with what it says."""
    return {200: {"content": {"application/json": {"example": {"speech": text}}}}}


@router.post("/ivr/verify", summary="The caller proves themselves (card last 4 + PIN)")
@raises(IvrVerificationFailed, WrongPin, PinNotSet, CardNotUsable, CardLocked, RateLimited)
async def ivr_verify(session: Session, body: IvrVerifyIn, response: Response) -> IvrVerified:
    """An IVR session for the caller whose number, card ending and PIN match; its `speech` is
    「验证成功。」. Every refusal carries `speech` to read out before offering the menu again:

    - 401 `ivr-verification-failed` (number or card ending):
      「验证未通过，请核对市民卡卡号后四位后重新输入。」
    - 401 `wrong-pin`, with `attempts_left`: 「密码错误，您还可以尝试2次。」
    - 423 `card-locked` (5 wrong PINs), with `locked_until`:
      「密码错误次数过多，您的市民卡已被锁定，请24小时后再试，或携带身份证到市民卡服务网点解锁。」
    - 409 `pin-not-set`: 「您的市民卡尚未设置密码，请在智慧吴江App或市民卡服务网点设置后再试。」
    - 409 `card-not-usable` (reported lost or frozen during the call):
      「您的市民卡目前无法使用，如需帮助请转人工服务。」
    - 429 `rate-limited` (10 tries an hour per calling number), with `retry_after`:
      「尝试次数过多，请稍后再拨打。」"""
    with _spoken():
        try:
            bucket = residents.phone_key(body.caller_number)
        except InvalidPhone:
            raise _unverified() from None
        await hit(
            get_redis(),
            bucket=f"hotline-ivr:phone:{bucket}",
            limit=IVR_TRIES_PER_WINDOW,
            window_seconds=IVR_TRY_WINDOW,
        )
        profile = await _caller(session, body.caller_number)
        card = None
        if profile is not None:
            card = await cards.card_for_hotline(
                session, resident_id=profile.id, last4=body.card_last4
            )
        if card is None:
            raise _unverified()
        await pins.verify_pin(session, card=card, pin=body.pin, actor=CARD_ACTOR, channel=CHANNEL)
        token, started = await ivr.start(
            get_redis(), resident_id=card.resident_id, card_id=card.id, card_last4=card.last4
        )
        await _footprint(
            session,
            card.resident_id,
            "hotline.ivr_verified",
            device=IVR_DEVICE,
            card_id=str(card.id),
        )
    response.headers.update(NO_STORE)
    return IvrVerified(ivr_session=token, expires_at=started.expires, speech=ivr.VERIFIED)


def _unverified() -> IvrVerificationFailed:
    return IvrVerificationFailed(
        "No active card of the calling number's resident ends in these digits.",
        speech=ivr.VERIFICATION_FAILED,
    )


_ivr_token = APIKeyHeader(
    name="X-IVR-Session",
    scheme_name="IvrSession",
    description="The `ivr_session` from `POST /v1/hotline/ivr/verify`.",
    auto_error=False,
)


@dataclass(frozen=True)
class IvrCaller:
    session: ivr.IvrSession
    token: str

    @property
    def resident_id(self) -> uuid.UUID:
        return self.session.resident_id


@raises(IvrSessionExpired)
async def ivr_caller(
    session: Session, token: Annotated[str | None, Security(_ivr_token)]
) -> IvrCaller:
    """The live IVR session; 401 `ivr-session-expired` else, also once its card can no longer
    be used (reported lost or frozen meanwhile), with the `speech`
    「验证已失效，请重新输入市民卡卡号后四位和密码。」"""
    with _spoken():
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise IvrSessionExpired("Verify the caller first: no IVR session was given.")
        redis = get_redis()
        live = await ivr.use(redis, token=token)
        card = await cards.card(session, card_id=live.card_id)
        if card.status != CardStatus.ACTIVE:
            await ivr.end(redis, token=token)
            raise IvrSessionExpired("The card of this IVR session can no longer be used.")
    return IvrCaller(session=live, token=token)


OnIvr = Annotated[IvrCaller, Depends(ivr_caller)]


@router.get(
    "/ivr/balance", summary="The caller's balance, to speak", responses=_speaks(ivr.balance(1280))
)
async def ivr_balance(session: Session, caller: OnIvr) -> Speech:
    """The points the caller can spend now."""
    summary = await points.points_summary(session, resident_id=caller.resident_id)
    await _footprint(session, caller.resident_id, "points.balance", device=IVR_DEVICE)
    return Speech(speech=ivr.balance(summary.available))


@router.get(
    "/ivr/latest-award",
    summary="The caller's latest award, to speak",
    responses=_speaks("您最近一次获得积分是在2026年12月8日，因「垃圾正确分类投放」获得2分。"),
)
async def ivr_latest_award(session: Session, caller: OnIvr) -> Speech:
    """When, for what and how many; 「您目前还没有获得过积分。」 for a caller who never earned
    any."""
    page = await points.points_history(
        session,
        resident_id=caller.resident_id,
        filters=points.history_filters(kind="award"),
        limit=1,
    )
    await _footprint(session, caller.resident_id, "points.latest_award", device=IVR_DEVICE)
    if not page.items:
        return Speech(speech=ivr.NO_AWARD)
    latest = page.items[0]
    behaviour = latest.behaviour.title.zh if latest.behaviour else None
    return Speech(speech=ivr.latest_award(points=latest.points, behaviour=behaviour, at=latest.at))


@router.get(
    "/ivr/expiring",
    summary="The caller's points expiring within 30 days, to speak",
    responses=_speaks("您有120分将在30天内到期，最早到期日为2026年12月31日，请尽快兑换使用。"),
)
async def ivr_expiring(session: Session, caller: OnIvr) -> Speech:
    """How many points lapse within 30 days and the last day of the earliest;
    「您近30天内没有即将到期的积分。」 when none do."""
    soon = (
        await points.points_summary(session, resident_id=caller.resident_id)
    ).expiring_within_30_days
    await _footprint(session, caller.resident_id, "points.expiring", device=IVR_DEVICE)
    if soon.points <= 0 or soon.earliest_at is None:
        return Speech(speech=ivr.NOTHING_EXPIRING)
    return Speech(speech=ivr.expiring(points=soon.points, earliest_end=soon.earliest_at))


@router.post(
    "/ivr/report-lost",
    summary="Report the caller's card lost (ends the IVR session)",
    responses=_speaks(ivr.reported_lost("1234")),
)
@raises(CardNotUsable)
async def ivr_report_lost(
    session: Session, caller: OnIvr, _key: Annotated[str | None, OptionalHotlineKey]
) -> Speech:
    """The card proved on this call is reported lost at once; the IVR session ends with it.
    409 `card-not-usable` (with `speech`) only if a clerk cancelled or replaced the card in
    the same moment."""
    with _spoken():
        card = await cards.report_lost(
            session,
            resident_id=caller.resident_id,
            actor=CARD_ACTOR,
            channel=CHANNEL,
            card_id=caller.session.card_id,
        )
        await _footprint(
            session, caller.resident_id, "card.report_lost", device=IVR_DEVICE, card_id=str(card.id)
        )
        await ivr.end(get_redis(), token=caller.token)
    return Speech(speech=ivr.reported_lost(card.last4))


# --- tickets ---------------------------------------------------------------------------------


class TicketIn(BaseModel):
    """A ticket the agent files: linked to `resident_id`, or to the resident whose mobile number
    is `caller_number` (unlinked if none has it), or to nobody."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "caller_number": _EXAMPLE_CALLER,
                    "kind": "report",
                    "subject": "中山南路路灯不亮",
                    "body": "来电人反映松陵街道中山南路与鲈乡南路交叉口附近路灯连续三晚不亮，"
                    "夜间行人通行不便，希望尽快维修。",
                    "agent": "A1023",
                }
            ]
        },
    )

    caller_number: CallerNumber | None = None
    resident_id: uuid.UUID | None = None
    kind: tickets.TicketKind
    subject: Subject
    body: Body
    agent: AgentId

    @model_validator(mode="after")
    def _one_caller(self) -> Self:
        if self.caller_number is not None and self.resident_id is not None:
            raise ValueError("give `caller_number` or `resident_id`, not both")
        return self


class StatusIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "in_progress",
                    "note": "已派单至松陵街道城市管理办公室",
                    "agent": "A2051",
                }
            ]
        },
    )

    status: tickets.TicketStatus
    note: Note | None = None
    agent: AgentId


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rating": 5}]})

    rating: Rating


@router.post("/tickets", status_code=status.HTTP_201_CREATED, summary="File a ticket")
@raises(ResidentNotFound)
async def file_ticket(
    session: Session, body: TicketIn, _key: Annotated[str, HotlineKey]
) -> tickets.TicketOut:
    """Numbered `WJyyyymmdd-NNNNNN` (local date, a sequence per day), status `open`. 404
    `resident-not-found` for a `resident_id` nobody has; a `caller_number` no resident has
    files the ticket unlinked. The Idempotency-Key is required: a retry after a lost answer
    must not file a second ticket."""
    resident_id = body.resident_id
    if resident_id is None and body.caller_number is not None:
        profile = await _caller(session, body.caller_number)
        resident_id = profile.id if profile else None
    ticket = await tickets.create_ticket(
        session,
        kind=body.kind,
        subject=body.subject,
        body=body.body,
        created_by=f"agent:{body.agent}",
        resident_id=resident_id,
    )
    if resident_id is not None:
        await _footprint(
            session, resident_id, "ticket.filed", device=body.agent, ticket=ticket.number
        )
    return ticket


@router.get("/tickets/{number}", summary="A ticket and its history")
@raises(TicketNotFound)
async def read_ticket(session: Session, number: TicketNumber) -> tickets.TicketOut:
    """With its status history, oldest first."""
    return await tickets.get_ticket(session, number=number)


@router.post("/tickets/{number}/status", summary="Move a ticket along")
@raises(TicketNotFound, TicketTransitionInvalid)
async def change_ticket_status(
    session: Session,
    number: TicketNumber,
    body: StatusIn,
    _key: Annotated[str | None, OptionalHotlineKey],
) -> tickets.TicketOut:
    """open → in_progress → resolved → closed, or straight to closed from open or in_progress;
    anything else is 409 `ticket-transition-invalid`. A linked resident is notified."""
    return await tickets.change_status(
        session, number=number, status=body.status, actor=f"agent:{body.agent}", note=body.note
    )


@router.post("/tickets/{number}/rating", summary="The caller's satisfaction (1–5)")
@raises(TicketNotFound, TicketAlreadyRated, TicketNotClosed)
async def rate_ticket(
    session: Session,
    number: TicketNumber,
    body: RatingIn,
    _key: Annotated[str | None, OptionalHotlineKey],
) -> tickets.TicketOut:
    """Once, after the ticket is closed: 409 `ticket-not-closed` or `ticket-already-rated`."""
    ticket = await tickets.rate_ticket(session, number=number, rating=body.rating)
    if ticket.resident_id is not None:
        await _footprint(
            session,
            ticket.resident_id,
            "ticket.rated",
            device="satisfaction-callback",
            ticket=ticket.number,
            rating=body.rating,
        )
    return ticket


# --- residents in the app --------------------------------------------------------------------


@app_router.get("", summary="My 12345 tickets")
async def my_tickets(session: Session, me: CurrentResident, page: Paging) -> tickets.TicketPage:
    """The tickets filed for me, newest first."""
    return await tickets.resident_tickets(
        session, resident_id=me.resident_id, cursor=page.cursor, limit=page.limit
    )
