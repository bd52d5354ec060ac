"""The world a contract run fuzzes, made through the project's own services, and the
credentials the run renews: in a process of its own, never the test session's, whose engine,
Redis client and caches belong to the suite's own database and event loop.

    python -m tests.contract.seeding       (with the fuzzed server's WUJIANG_* environment)

migrates the database, seeds it and writes the world as one JSON line on stdout. It then answers
each JSON line read from stdin with one JSON line, until stdin closes:

- `{"op": "resident", "who": "app"}`: a new app session of that resident;
- `{"op": "tv"}`: a new session of the app resident's TV box, as the device grant leaves it;
- `{"op": "partner"}`: a new partner-app session of the app resident, as the authorization
  code grant leaves it (consent included);
- `{"op": "staff", "who": "admin"}`: a new session of that staff member;
- `{"op": "card", "who": "kiosk"}`: that resident's card usable again whatever the run did to
  it (lost, frozen, cancelled, PIN changed or locked): the active card, or a new one, with the
  PIN `PIN` and no lock;
- `{"op": "kiosk"}`: a new kiosk (`id`, `secret`), to start sessions at when the run has used up
  the per-kiosk limit on session starts of the one it had;
- `{"op": "caller"}`: a new hotline resident (`id`, `phone`, `card`), calling from a number of
  their own, when the run has used up the per-number limit on IVR verifications; the commands
  about `hotline` are about them from then on;
- `{"op": "verify"}`: `ledger.verify` over everything the run left (`ok`, `violations`).

A refused command answers `{"error": "..."}`. Nothing here touches Redis: with the in-process
stand-in (`memory://`) the server's Redis is not this process's, so what lives there (kiosk and
IVR sessions, device codes) the caller makes over HTTP.

Three residents, one per channel that holds a card session (`app`, `kiosk`, `hotline`): the
operations that wreck a card (report it lost, freeze it, change its PIN) then cost only the
renewals of their own channel, which are rate-limited (kiosk session starts per kiosk, IVR
verifications per calling number)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import uuid
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncSession

import citizen_card
import ledger
import points
import tickets
from api.auth import APP_SCOPE
from api.principal import STAFF_SCOPE
from channels.kiosk import devices as kiosks
from citizen_card.cards import CHIP_UID
from citizen_card.errors import WeakPin
from citizen_card.pins import check_strength
from core.db import Database
from core.migrate import migrate
from core.settings import get_keyring, get_settings
from identity import clients, consents, residents, sessions, staff
from identity.clients import APP_CLIENT_ID, STAFF_CLIENT_ID, TV_CLIENT_ID
from identity.tokens import STAFF_ACR
from identity.verification import FormatOnlyVerifier
from notifications import devices
from notifications.push import LoggingPush
from notifications.worker import Worker
from points.schemas.awards import AwardIn, StaffActor
from points.schemas.rewards import RewardIn
from tests.identity.factories import make_id_number

PIN = "258036"
COMMUNITY = "songling"
MERCHANT = "songling-mart"
FEED_SOURCE = "garbage-sorting"
RESIDENTS = {
    # who: (phone, name, ID number sequence, card number, chip UID)
    "app": ("13912345678", "王晓明", 1, "3205010020001234", "04A1B2C3"),
    "kiosk": ("13912345679", "李秀英", 2, "3205010020005678", "04D4E5F6"),
    "hotline": ("13912345670", "张建国", 3, "3205010020009012", "04A7B8C9"),
}
RESIDENT_PASSWORD = "wujiang-contract-2026"
STAFF_PASSWORD = "a-long-staff-password-2026"
# Who holds which roles: the run sends each operation as the member whose role it needs.
STAFF = {
    "awarder": [("awarder", COMMUNITY)],
    "approver": [("approver", COMMUNITY)],
    "admin": [("admin", "*")],
    "clerk": [("counter_clerk", "*")],
    "cashier": [("merchant_cashier", MERCHANT)],
}
PARTNER_SCOPES = frozenset({"openid", "profile", "phone", "real_name", "offline_access"})
TV_SCOPE = "points:read"
# (behaviour, quantity): posted at once; the last is over the run's approval threshold (25).
AWARDS = [
    ("tree-planting", 1),
    ("river-patrol", 1),
    ("elderly-care-visit", 2),
    ("taihu-clean-up", 3),
]
PENDING_AWARD = ("civilised-traffic", 4)
SEED_ACTOR = "staff:contract-seed"
CALLER_SEQUENCES = 100  # ID number sequences of the callers made during the run, from here on


def _reward(code: str, title: str, points_cost: int, **more: Any) -> RewardIn:
    return RewardIn.model_validate(
        {
            "code": code,
            "kind": "gift",
            "title": {"zh": title, "en": code},
            "description": {"zh": f"{title}一份", "en": f"One {code}"},
            "points_cost": points_cost,
            "stock": 1000,
            "merchant": MERCHANT,
            "voucher_valid_days": 30,
            **more,
        }
    )


REWARDS = [
    _reward("tote-bag", "环保袋", 50),
    _reward("bus-ride", "公交乘车券", 5),
    _reward("seed-packet", "花种一包", 2, per_resident_limit=1000),
    _reward("cinema-ticket", "电影票", 10, cash_cents=1500, kind="voucher"),
]


# --- credentials ---------------------------------------------------------------------------------


async def resident_session(
    session: AsyncSession,
    resident_id: uuid.UUID,
    *,
    client_id: str = APP_CLIENT_ID,
    channel: str = "app",
    scope: str = APP_SCOPE,
    device_name: str = "contract run",
) -> dict[str, str]:
    """A session of the resident as sign-in (or the device or code grant) starts it."""
    resident = await residents.get(session, resident_id=resident_id)
    issued = await sessions.start(
        session,
        subject_type="resident",
        subject=str(resident_id),
        client_id=client_id,
        channel=channel,
        assurance=resident.assurance,
        scope=scope,
        device_name=device_name,
    )
    return {"access_token": issued.access_token, "session_id": str(issued.session_id)}


async def tv_session(session: AsyncSession, resident_id: uuid.UUID) -> dict[str, str]:
    return await resident_session(
        session,
        resident_id,
        client_id=TV_CLIENT_ID,
        channel="tv",
        scope=TV_SCOPE,
        device_name="客厅电视",
    )


async def partner_session(
    session: AsyncSession, resident_id: uuid.UUID, client_id: str
) -> dict[str, str]:
    await consents.grant(
        session, resident_id=resident_id, client_id=client_id, scopes=PARTNER_SCOPES
    )
    return await resident_session(
        session,
        resident_id,
        client_id=client_id,
        channel="partner",
        scope=" ".join(sorted(PARTNER_SCOPES)),
        device_name="吴江健康",
    )


async def staff_session(session: AsyncSession, who: str) -> dict[str, str]:
    member = await staff.get(session, username=f"{who}.contract")
    issued = await sessions.start(
        session,
        subject_type="staff",
        subject=str(member.id),
        client_id=STAFF_CLIENT_ID,
        channel="staff",
        assurance=STAFF_ACR,
        scope=STAFF_SCOPE,
        device_name="contract run",
    )
    return {
        "access_token": issued.access_token,
        "session_id": str(issued.session_id),
        "id": str(member.id),
    }


def new_card_number() -> str:
    """A random card number the run's PIN is not made of (the PIN rules refuse one holding
    the card number's last 4 digits: 1 card in about 3,000)."""
    while True:
        number = "320501" + "".join(secrets.choice("0123456789") for _ in range(10))
        try:
            check_strength(PIN, number=number)
        except WeakPin:
            continue
        return number


async def usable_card(session: AsyncSession, resident_id: uuid.UUID) -> dict[str, str]:
    """The resident's active card, or a new one if the run lost, froze or cancelled theirs;
    either way with the PIN `PIN` and no lock (a clerk's PIN reset lifts one)."""
    card = await citizen_card.active_card(session, resident_id=resident_id)
    if card is None:
        issued = await citizen_card.issue(
            session,
            resident_id=resident_id,
            number=new_card_number(),
            chip_uid=secrets.token_hex(4).upper(),
            actor=SEED_ACTOR,
            channel="counter",
        )
        card_id = issued.id
    else:
        card_id = card.id
    await citizen_card.reset_pin_by_clerk(session, card_id=card_id, pin=PIN, actor=SEED_ACTOR)
    card = await citizen_card.active_card(session, resident_id=resident_id)
    assert card is not None
    return {
        "id": str(card.id),
        "chip_uid": get_keyring().decrypt(card.chip_uid_token, context=CHIP_UID),
        "last4": card.last4,
        "pin": PIN,
    }


# --- the world -----------------------------------------------------------------------------------


async def new_caller(session: AsyncSession, earlier: int) -> dict[str, Any]:
    """A cardholder on a number of their own: nothing more is needed to call the IVR."""
    phone = "137" + "".join(secrets.choice("0123456789") for _ in range(8))
    resident_id = await _cardholder(
        session,
        phone=phone,
        name="赵志强",
        sequence=CALLER_SEQUENCES + earlier,
        number=new_card_number(),
        chip=secrets.token_hex(4).upper(),
    )
    return {"id": str(resident_id), "phone": phone, "card": await usable_card(session, resident_id)}


async def seed(session: AsyncSession) -> dict[str, Any]:
    """Everything the run starts from; what it returns is what the run may use."""
    document = points.DEFAULT_BEHAVIOURS.read_text(encoding="utf-8")
    await points.publish_behaviours(session, document=document, published_by="contract-seed")
    await points.add_rewards(session, rewards=REWARDS)
    members = {}
    for who, grants in STAFF.items():
        await staff.create(
            session,
            username=f"{who}.contract",
            display_name=f"{who} 测试",
            password=STAFF_PASSWORD,
            grants=grants,
        )
        members[who] = await staff_session(session, who)
    awarder = StaffActor(id=uuid.UUID(members["awarder"]["id"]), roles=frozenset(STAFF["awarder"]))
    people = {who: await _resident(session, who, awarder) for who in RESIDENTS}
    app_id = uuid.UUID(people["app"]["id"])
    world = {
        "residents": people,
        "staff": members,
        "community": COMMUNITY,
        "merchant": MERCHANT,
        "reward_codes": [reward.code for reward in REWARDS],
        "kiosks": {
            # One kiosk starts the run's own sessions, the other is the fuzzer's: session
            # starts are rate-limited per kiosk, and the fuzzer must not use up the run's.
            name: dict(zip(("id", "secret"), await _kiosk(session, name), strict=True))
            for name in ("working", "fuzzed")
        },
        "callers": [],
        "ticket_number": (
            await tickets.create_ticket(
                session,
                kind=tickets.TicketKind.SUGGESTION,
                subject="路灯",
                body="松陵路的路灯坏了。",
                created_by="agent:contract-seed",
                resident_id=app_id,
            )
        ).number,
        **await _partners(session, app_id),
    }
    people["app"]["spare_session_id"] = (await resident_session(session, app_id))["session_id"]
    people["app"]["device_id"] = str(
        (
            await devices.register(
                session,
                resident_id=app_id,
                session_id=uuid.UUID(people["app"]["session_id"]),
                token="contract-fcm-token-" + secrets.token_hex(16),
                platform="android",
            )
        ).id
    )
    return world


async def _resident(session: AsyncSession, who: str, awarder: StaffActor) -> dict[str, Any]:
    """A resident verified by real name, with a card and its PIN, points, a redemption (a
    voucher) and an app session."""
    phone, name, sequence, number, chip = RESIDENTS[who]
    resident_id = await _cardholder(
        session, phone=phone, name=name, sequence=sequence, number=number, chip=chip
    )
    await residents.set_password(session, resident_id=resident_id, password=RESIDENT_PASSWORD)
    award_ids = []
    for behaviour, quantity in [*AWARDS, PENDING_AWARD]:
        award = await points.award(
            session,
            request=AwardIn(
                resident_id=resident_id,
                behaviour=behaviour,
                quantity=Decimal(quantity),
                community=COMMUNITY,
            ),
            staff=awarder,
            idempotency_key=f"contract-seed-{who}-{behaviour}",
        )
        award_ids.append(str(award.id))
    redemption = await points.redeem(
        session,
        resident_id=resident_id,
        reward_code="bus-ride",
        idempotency_key=f"contract-seed-{who}",
    )
    return {
        "id": str(resident_id),
        "phone": phone,
        "password": RESIDENT_PASSWORD,
        "card": await usable_card(session, resident_id),
        "award_ids": award_ids,
        "redemption_id": str(redemption.id),
        "voucher_code": redemption.voucher_code,
        **await resident_session(session, resident_id),
    }


async def _cardholder(
    session: AsyncSession, *, phone: str, name: str, sequence: int, number: str, chip: str
) -> uuid.UUID:
    """A resident verified by real name (an ID number of `sequence`) holding a card with the
    PIN `PIN`."""
    resident, _ = await residents.find_or_create_by_phone(session, phone=phone)
    await residents.verify_real_name(
        session,
        FormatOnlyVerifier(),
        resident_id=resident.id,
        name=name,
        id_number=make_id_number(sequence=sequence),
    )
    await citizen_card.issue(
        session,
        resident_id=resident.id,
        number=number,
        chip_uid=chip,
        actor=SEED_ACTOR,
        channel="counter",
    )
    await citizen_card.set_pin(session, resident_id=resident.id, pin=PIN)
    return resident.id


async def _kiosk(session: AsyncSession, name: str) -> tuple[str, str]:
    kiosk, secret = await kiosks.add(session, name=f"松陵便民中心 {name}", community=COMMUNITY)
    return str(kiosk.id), secret


async def _partners(session: AsyncSession, resident_id: uuid.UUID) -> dict[str, Any]:
    """A partner app the resident consented to (with a session), and a feed machine."""
    partner, partner_secret = await clients.register(
        session,
        name="吴江健康",
        redirect_uris=["https://health.partner.test/callback"],
        scopes=sorted(PARTNER_SCOPES),
        auth_method="client_secret_basic",
        jwks=None,
    )
    feed, feed_secret = await clients.register(
        session,
        name="垃圾分类回收箱",
        redirect_uris=[],
        scopes=[f"feed:{FEED_SOURCE}"],
        auth_method="client_secret_basic",
        jwks=None,
    )
    return {
        "partner": {
            "client_id": partner.client_id,
            "client_secret": partner_secret,
            **await partner_session(session, resident_id, partner.client_id),
        },
        "feed": {"client_id": feed.client_id, "client_secret": feed_secret, "source": FEED_SOURCE},
    }


async def fan_out_notices(database: Database) -> None:
    """The inboxes as the worker leaves them: the notices of the seeded awards and sign-ins."""
    worker = Worker(database, get_settings(), push=LoggingPush(), sms=_NoSms(), jobs=[])
    await worker.run_until_idle()


class _NoSms:
    async def send(self, *, phone: str, text: str) -> None:
        return None


# --- the process ---------------------------------------------------------------------------------


async def answer(database: Database, world: dict[str, Any], command: dict[str, Any]) -> Any:
    people = world["residents"]
    app_id = uuid.UUID(people["app"]["id"])
    async with database.unit_of_work() as session:
        match command.get("op"):
            case "resident":
                return await resident_session(session, uuid.UUID(people[command["who"]]["id"]))
            case "tv":
                return await tv_session(session, app_id)
            case "partner":
                return await partner_session(session, app_id, world["partner"]["client_id"])
            case "staff":
                return await staff_session(session, command["who"])
            case "card":
                return await usable_card(session, uuid.UUID(people[command["who"]]["id"]))
            case "kiosk":
                return dict(zip(("id", "secret"), await _kiosk(session, "renewed"), strict=True))
            case "caller":
                people["hotline"] = await new_caller(session, len(world["callers"]))
                world["callers"].append(people["hotline"]["id"])
                return people["hotline"]
            case "verify":
                report = await ledger.verify(session)
                return {"ok": report.ok, "violations": [str(v) for v in report.violations[:20]]}
    return {"error": f"unknown command {command!r}"}


async def main(commands: TextIO, replies: TextIO) -> None:
    settings = get_settings()
    await migrate(settings.database_url)
    database = Database(settings)
    try:
        async with database.unit_of_work() as session:
            world = await seed(session)
        await fan_out_notices(database)
        _reply(replies, world)
        while line := await asyncio.to_thread(commands.readline):
            try:
                _reply(replies, await answer(database, world, json.loads(line)))
            except Exception as exc:  # the caller judges a refusal; this process goes on
                _reply(replies, {"error": f"{type(exc).__name__}: {exc}"})
    finally:
        await database.dispose()


def _reply(replies: TextIO, payload: Any) -> None:
    replies.write(json.dumps(payload, default=str) + "\n")
    replies.flush()


if __name__ == "__main__":
    # Replies go to the real stdout; anything else writing there (a console logger) is sent to
    # stderr instead, so it can never corrupt a reply.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    asyncio.run(main(sys.stdin, protocol))
