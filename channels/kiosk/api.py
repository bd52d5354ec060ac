"""The kiosk API (自助一体机): a registered kiosk, a resident's card and PIN, a few narrow actions.

Every request carries the kiosk's own credentials::

    Authorization: Kiosk <kiosk_id>:<secret>

(`wujiang kiosks add` prints both; `wujiang kiosks rotate` a new secret, the old one accepted
for 10 more minutes). A resident taps their card and enters the PIN: `POST /v1/kiosk/sessions`
returns a session token that the kiosk sends as `X-Kiosk-Session` with the resident's requests.
The session ends 3 minutes after its last use, 10 minutes after it started at the latest, or
when the resident ends it or reports the card lost. It reaches only the endpoints below: app
endpoints need app tokens, and a kiosk session is not one.

- `POST /v1/kiosk/sessions` `{chip_uid, pin}`; `DELETE /v1/kiosk/sessions/current`
- `GET /v1/kiosk/me/points`, `GET /v1/kiosk/me/points/history?cursor=`
- `GET /v1/kiosk/rewards`, `POST /v1/kiosk/me/redemptions` `{reward}` + `Idempotency-Key`
- `POST /v1/kiosk/me/card/report-lost`
- `GET /v1/kiosk/me/receipts/balance?width=32|48`,
  `GET /v1/kiosk/me/receipts/redemption/{id}?width=32|48`: `text/plain` for the printer

Every resident action lands in their digital footprint (channel `kiosk`, the kiosk's name)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response, Security, status
from fastapi.responses import PlainTextResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

import points
from api.deps import Session
from api.idempotency import idempotent
from api.pagination import PageRequest, paging
from api.rewards import (
    RedeemIn,  # the app's body: one schema for both
    reward_page,
)
from api.routing import contract_router
from channels.kiosk import devices, receipt_examples, receipts, sessions
from channels.kiosk.devices import AuthenticatedKiosk
from channels.kiosk.errors import (
    CardRejected,
    KioskCannotTakePayment,
    KioskSessionExpired,
    KioskUnauthenticated,
)
from channels.kiosk.sessions import KioskSession
from citizen_card import CardLocked, CardOut, CardStatus, InvalidChipUid, WrongPin, cards, pins
from citizen_card.errors import CardNotUsable, PinNotSet
from core import clock
from core.ratelimit import RateLimited, hit
from core.redis import get_redis
from identity import activity, residents
from mobile_contract.problems import raises
from points.errors import (
    IdempotencyKeyReused,
    InsufficientPoints,
    RedemptionLimitReached,
    RedemptionNotFound,
    RewardNotFound,
    RewardUnavailable,
    SoldOut,
)
from points.schemas.rewards import RedemptionOut, RewardPage
from points.schemas.views import HistoryPage, PointsSummary

router = contract_router(prefix="/v1/kiosk", tags=["kiosk"])

CHANNEL = "kiosk"
NO_STORE = {"Cache-Control": "no-store"}
# Per kiosk: a resident fumbling a PIN never gets near it; a script trying chips soon does.
SESSION_STARTS_PER_WINDOW, SESSION_START_WINDOW = 10, 60
# A kiosk screen shows ten lines of history at a time.
KioskPaging = Annotated[PageRequest, Depends(paging(default_limit=10))]
MAX_TOKEN_LENGTH = 100

_kiosk_credentials = APIKeyHeader(
    name="Authorization",
    scheme_name="KioskCredentials",
    description="`Kiosk <kiosk_id>:<secret>`, as printed by `wujiang kiosks add`.",
    auto_error=False,
)
_session_token = APIKeyHeader(
    name="X-Kiosk-Session",
    scheme_name="KioskSession",
    description="The token from `POST /v1/kiosk/sessions`.",
    auto_error=False,
)


# --- who is calling --------------------------------------------------------------------------


@raises(KioskUnauthenticated)
async def current_kiosk(
    session: Session, authorization: Annotated[str | None, Security(_kiosk_credentials)]
) -> AuthenticatedKiosk:
    """The registered, unrevoked kiosk making the request; 401 `kiosk-unauthenticated` else."""
    return await devices.authenticate(session, authorization)


CurrentKiosk = Annotated[AuthenticatedKiosk, Depends(current_kiosk)]


@dataclass(frozen=True)
class KioskCaller:
    """A resident at a kiosk, in a live card session of that kiosk."""

    kiosk: AuthenticatedKiosk
    session: KioskSession
    token: str

    @property
    def resident_id(self) -> uuid.UUID:
        return self.session.resident_id

    @property
    def idempotency_scope(self) -> str:
        """A kiosk's keys are the kiosk's, whoever's card is in it."""
        return f"kiosk:{self.kiosk.id}"


@raises(KioskSessionExpired)
async def kiosk_resident(
    session: Session,
    kiosk: CurrentKiosk,
    token: Annotated[str | None, Security(_session_token)],
) -> KioskCaller:
    """The kiosk's live card session (its life extended); 401 `kiosk-session-expired` else,
    also once its card stops being usable (reported lost, frozen or PIN-locked elsewhere
    meanwhile: the card is re-read on every request)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise KioskSessionExpired("Tap the card and enter the PIN to start a session.")
    redis = get_redis()
    live = await sessions.use(redis, token=token, kiosk_id=kiosk.id)
    card = await cards.card(session, card_id=live.card_id)
    if card.status != CardStatus.ACTIVE or card.locked_until is not None:
        await sessions.end(redis, token=token)
        raise KioskSessionExpired("The card of this session can no longer be used.")
    return KioskCaller(kiosk=kiosk, session=live, token=token)


AtKiosk = Annotated[KioskCaller, Depends(kiosk_resident)]
KioskKey = idempotent(kiosk_resident, required=True)
OptionalKioskKey = idempotent(kiosk_resident, required=False)


async def _footprint(session: Session, caller: KioskCaller, action: str, **detail: Any) -> None:
    await _record(session, caller.kiosk, caller.resident_id, action, **detail)


async def _record(
    session: Session,
    kiosk: AuthenticatedKiosk,
    resident_id: uuid.UUID,
    action: str,
    **detail: Any,
) -> None:
    await activity.record(
        session,
        resident_id=resident_id,
        channel=CHANNEL,
        device=kiosk.name,
        action=action,
        detail={"kiosk_id": str(kiosk.id), **detail},
    )


# --- card sessions ---------------------------------------------------------------------------


class SessionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"chip_uid": "04A2B3C4D5E680", "pin": "385917"}]}
    )

    chip_uid: Annotated[
        str, Field(min_length=1, max_length=64, description="As the reader saw it.")
    ]
    pin: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The card's 6-digit PIN.")]


class KioskSessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_token": "q3V9xK2mT7pL0sR4wY8zB1cD5fG6hJ9kN2vX4bM7qE0",
                    "expires_at": "2026-12-08T02:23:05Z",
                    "ends_at_latest": "2026-12-08T02:30:05Z",
                    "idle_seconds": 180,
                    "card_last4": "1234",
                }
            ]
        }
    )

    session_token: str = Field(description="Send as X-Kiosk-Session; shown only here.")
    expires_at: datetime = Field(
        description="Unless used before then: each request moves it `idle_seconds` on."
    )
    ends_at_latest: datetime = Field(description="10 minutes after the start, however used.")
    idle_seconds: int
    card_last4: str = Field(description="To greet the resident: 尾号1234.")


@router.post("/sessions", status_code=status.HTTP_201_CREATED, summary="Start a card session")
@raises(CardRejected, WrongPin, CardNotUsable, PinNotSet, CardLocked, RateLimited)
async def kiosk_start_session(
    session: Session, kiosk: CurrentKiosk, body: SessionIn, response: Response
) -> KioskSessionOut:
    """The card's PIN checked (5 wrong in a row lock the card: 423 `card-locked` with
    `locked_until`); a wrong PIN is 401 `wrong-pin` with `attempts_left` (show it), a lost or
    frozen card 409 `card-not-usable`, a card without a PIN 409 `pin-not-set` (set it in the
    app or at a counter), a chip we do not know 401 `card-rejected`. Too many starts at this
    kiosk within a minute: 429 `rate-limited` with `retry_after`. The token is answered only
    here (`Cache-Control: no-store`): keep it in memory, never on disk."""
    await hit(
        get_redis(),
        bucket=f"kiosk-session:kiosk:{kiosk.id}",
        limit=SESSION_STARTS_PER_WINDOW,
        window_seconds=SESSION_START_WINDOW,
    )
    try:
        card = await cards.by_chip_uid(session, body.chip_uid)
    except InvalidChipUid:
        card = None  # answered as any chip we do not know
    if card is None:
        raise CardRejected("This card cannot be used here.")
    try:
        await pins.verify_pin(
            session, card=card, pin=body.pin, actor=f"kiosk:{kiosk.id}", channel=CHANNEL
        )
    except (WrongPin, CardLocked) as refused:
        # Kept with the counted failure (and only then): the resident sees someone tried
        # their card, where and when.
        if refused.keeps_changes:
            await _record(
                session, kiosk, card.resident_id, "kiosk.pin_rejected", card_id=str(card.id)
            )
        raise
    token, started = await sessions.start(
        get_redis(), kiosk_id=kiosk.id, resident_id=card.resident_id, card_id=card.id
    )
    caller = KioskCaller(kiosk=kiosk, session=started, token=token)
    await _footprint(session, caller, "kiosk.session_start", card_id=str(card.id))
    response.headers.update(NO_STORE)
    return KioskSessionOut(
        session_token=token,
        expires_at=started.expires,
        ends_at_latest=started.ends_at_latest,
        idle_seconds=int(sessions.IDLE.total_seconds()),
        card_last4=card.last4,
    )


@router.delete(
    "/sessions/current", status_code=status.HTTP_204_NO_CONTENT, summary="End the card session"
)
async def kiosk_end_session(session: Session, caller: AtKiosk) -> None:
    """When the resident is done or walks away: the token stops working at once."""
    await _footprint(session, caller, "kiosk.session_end")
    await sessions.end(get_redis(), token=caller.token)


# --- points and rewards ----------------------------------------------------------------------


@router.get("/me/points", summary="Balance and points expiring within 30 days")
async def kiosk_points(session: Session, caller: AtKiosk) -> PointsSummary:
    """As in the app: `available` to spend, `held` for vouchers not yet used, by category."""
    summary = await points.points_summary(session, resident_id=caller.resident_id)
    await _footprint(session, caller, "points.balance")
    return summary


@router.get("/me/points/history", summary="Points history, a page at a time")
async def kiosk_points_history(session: Session, caller: AtKiosk, page: KioskPaging) -> HistoryPage:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    found = await points.points_history(
        session,
        resident_id=caller.resident_id,
        filters=points.history_filters(),
        cursor=page.cursor,
        limit=page.limit,
    )
    await _footprint(session, caller, "points.history")
    return found


@router.get("/rewards", summary="Rewards that can be redeemed now")
async def kiosk_rewards(session: Session, caller: AtKiosk, page: KioskPaging) -> RewardPage:
    """The catalogue as in the app; rewards with a cash part (`cash_cents` > 0) are redeemed
    in the app only, so show them without the redeem button."""
    listed = reward_page(await points.list_rewards(session), page)
    await _footprint(session, caller, "rewards.list")
    return listed


@router.post("/me/redemptions", status_code=status.HTTP_201_CREATED, summary="Redeem a reward")
@raises(
    KioskCannotTakePayment,
    RewardNotFound,
    RewardUnavailable,
    SoldOut,
    RedemptionLimitReached,
    InsufficientPoints,
    IdempotencyKeyReused,
)
async def kiosk_redeem(
    session: Session,
    request: Request,
    caller: AtKiosk,
    body: RedeemIn,
    idempotency_key: Annotated[str, KioskKey],
) -> RedemptionOut:
    """The app's redemption, points only: a reward with a cash part needs the app's payment
    sheet (409 `kiosk-payment-unsupported`). The voucher is issued at once; print it with the
    redemption receipt. 409 `insufficient-points` carries `balance`; `sold-out`,
    `redemption-limit-reached` and `reward-unavailable` say why the reward cannot be had now."""
    reward = await points.get_reward(session, code=body.reward, public=False)
    if reward.cash_cents > 0:
        raise KioskCannotTakePayment("Rewards with a cash part are redeemed in the app.")
    out = await points.redeem(
        session,
        resident_id=caller.resident_id,
        reward_code=body.reward,
        # Keys are the kiosk's own: they never replay a request made in the app or elsewhere.
        idempotency_key=f"kiosk:{caller.kiosk.id}:{idempotency_key}",
        settings=request.app.state.settings,
    )
    await _footprint(
        session,
        caller,
        "rewards.redeem",
        redemption_id=str(out.id),
        reward=out.reward,
        points=out.points,
        replayed=out.replayed,
    )
    return out


# --- the card --------------------------------------------------------------------------------


@router.post("/me/card/report-lost", summary="Report the card lost (ends the session)")
@raises(CardNotUsable)
async def kiosk_report_lost(
    session: Session, caller: AtKiosk, _key: Annotated[str | None, OptionalKioskKey]
) -> CardOut:
    """The card in this session stops working at once; points stay with the resident, who
    binds a new card in the app or gets one at a counter. The session ends with it. 409
    `card-not-usable` only if a clerk cancelled or replaced the card in the same moment."""
    card = await cards.report_lost(
        session,
        resident_id=caller.resident_id,
        actor=f"kiosk:{caller.kiosk.id}",
        channel=CHANNEL,
        card_id=caller.session.card_id,
    )
    await _footprint(session, caller, "card.report_lost", card_id=str(caller.session.card_id))
    await sessions.end(get_redis(), token=caller.token)
    return card


# --- receipts --------------------------------------------------------------------------------

NARROW = receipts.PaperWidth.MM58
ReceiptWidth = Annotated[
    receipts.PaperWidth, Query(description="Columns: 32 for 58 mm paper, 48 for 80 mm.")
]


class ReceiptResponse(PlainTextResponse):
    """The media type as sent (Starlette adds the charset to `text/plain` anyway), so the
    contract names it as the kiosk receives it."""

    media_type = "text/plain; charset=utf-8"


def _receipt(kind: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The receipt, ready for the printer: every line exactly `width` "
            "columns (Chinese characters take two), `\\n` after each; personal data masked.",
            "content": {
                ReceiptResponse.media_type: {
                    "examples": receipt_examples.openapi_examples(kind),
                }
            },
        }
    }


@router.get(
    "/me/receipts/balance",
    summary="A balance receipt",
    response_class=ReceiptResponse,
    responses=_receipt("balance"),
)
async def kiosk_balance_receipt(
    session: Session, caller: AtKiosk, width: ReceiptWidth = NARROW
) -> PlainTextResponse:
    """Balance, held points, the three categories and what lapses within 30 days, for the
    thermal printer. Not cached (`Cache-Control: no-store`)."""
    summary = await points.points_summary(session, resident_id=caller.resident_id)
    text = receipts.balance_receipt(
        width=width,
        summary=summary,
        holder=await _holder(session, caller),
        kiosk_name=caller.kiosk.name,
        at=clock.now(),
    )
    await _footprint(session, caller, "receipt.balance", width=int(width))
    return ReceiptResponse(text, headers=NO_STORE)


@router.get(
    "/me/receipts/redemption/{redemption_id}",
    summary="A redemption receipt",
    response_class=ReceiptResponse,
    responses=_receipt("redemption"),
)
@raises(RedemptionNotFound)
async def kiosk_redemption_receipt(
    session: Session,
    caller: AtKiosk,
    redemption_id: uuid.UUID,
    width: ReceiptWidth = NARROW,
) -> PlainTextResponse:
    """With the voucher code in groups of four: the resident takes it to the merchant. Only
    the session resident's own redemptions; any other id is 404."""
    redemption = await points.get_redemption(
        session, resident_id=caller.resident_id, redemption_id=redemption_id
    )
    summary = await points.points_summary(session, resident_id=caller.resident_id)
    text = receipts.redemption_receipt(
        width=width,
        redemption=redemption,
        available=summary.available,
        holder=await _holder(session, caller),
        kiosk_name=caller.kiosk.name,
        at=clock.now(),
    )
    await _footprint(
        session, caller, "receipt.redemption", redemption_id=str(redemption_id), width=int(width)
    )
    return ReceiptResponse(text, headers=NO_STORE)


async def _holder(session: Session, caller: KioskCaller) -> receipts.Holder:
    profile = await residents.profile(session, resident_id=caller.resident_id)
    return receipts.Holder(name=profile.name, phone=profile.phone)
