"""What a TV box draws, built from what the domain services return: pure functions, no I/O.

Screens are made for a remote: few fields, lists in pages of six, Chinese by default (English
for residents who chose it in the app), times in local time, and every action that needs typing
offered as a QR code that opens the app (channels.tv.deeplinks)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict, JsonValue

from channels.tv import deeplinks
from channels.tv.deeplinks import Qr
from core.pagination import Page
from identity.schemas import ResidentProfile
from notifications.schemas import InboxItemOut
from points.schemas.behaviours import LocalisedOut
from points.schemas.rewards import RewardOut
from points.schemas.views import HistoryItem, HistoryKind, PointsSummary

PAGE_SIZE = 6  # lines a screen shows
HOME_NOTICES = 3
Language = Literal["zh", "en"]

_TEXT: dict[str, tuple[str, str]] = {
    # tiles of the home screen
    "points_history": ("积分明细", "Points history"),
    "rewards": ("兑换礼品", "Rewards"),
    "inbox": ("消息", "Messages"),
    "pair_app": ("绑定手机App", "Get the app"),
    "more": ("更多操作", "More"),
    # actions done in the app
    "preferences": ("通知设置", "Notification settings"),
    "card_lost": ("挂失市民卡", "Report card lost"),
    "sign_out": ("退出其他设备", "Sign out elsewhere"),
    # kinds of history lines without a behaviour or reward to name them
    "award": ("获得积分", "Points earned"),
    "reversal": ("积分撤回", "Award reversed"),
    "redemption": ("兑换礼品", "Reward redeemed"),
    "refund": ("积分退回", "Points returned"),
    "expiry": ("积分过期", "Points expired"),
    "adjustment": ("积分调整", "Adjustment"),
}

# Next screens, as paths of this API under /v1/tv.
TARGETS = {
    "points_history": "/v1/tv/points/history",
    "rewards": "/v1/tv/rewards",
    "inbox": "/v1/tv/inbox",
    "more": "/v1/tv/more",
}

# The actions of the "more" screen, each done in the app: its key and deep link.
MORE_ACTIONS = {
    "preferences": deeplinks.notification_preferences(),
    "card_lost": deeplinks.report_card_lost(),
    "sign_out": deeplinks.sign_out_elsewhere(),
}

# --- what the examples of the contract show: a resident's screens in Chinese -------------------


def _tile_example(key: str, link: str | None = None) -> JsonDict:
    return {
        "key": key,
        "label": _TEXT[key][0],
        "target": TARGETS.get(key) if link is None else None,
        "qr": deeplinks.example(link) if link is not None else None,
    }


_NOTICE_LINES: list[JsonValue] = [
    {
        "id": "01a25363-0cd0-7a13-8b24-1c2d3e4f5a6b",
        "title": "积分到账",
        "at": "2026-12-08T10:02:10.118000+08:00",
        "unread": True,
    },
    {
        "id": "01a24617-e1e0-7b24-9c35-2d3e4f5a6b7c",
        "title": "12345热线工单进度",
        "at": "2026-12-05T20:05:00.431000+08:00",
        "unread": True,
    },
    {
        "id": "01a22ef2-2d68-7c35-ad46-3e4f5a6b7c8d",
        "title": "兑换成功",
        "at": "2026-12-01T08:12:33.907000+08:00",
        "unread": False,
    },
]
_HISTORY_LINES: list[JsonValue] = [
    {
        "at": "2026-12-08T10:02:09.874000+08:00",
        "kind": "award",
        "label": "垃圾正确分类投放",
        "points": 2,
        "balance_after": 1280,
    },
    {
        "at": "2026-12-01T08:12:33.651000+08:00",
        "kind": "redemption",
        "label": "环保帆布袋",
        "points": -60,
        "balance_after": 1278,
    },
    {
        "at": "2026-11-29T15:40:12.300000+08:00",
        "kind": "award",
        "label": "志愿服务",
        "points": 20,
        "balance_after": 1338,
    },
]
_REWARD_CARDS: list[JsonValue] = [
    {
        "code": "tote-bag",
        "title": "环保帆布袋",
        "points_cost": 60,
        "cash_cents": 0,
        "qr": deeplinks.example(deeplinks.reward("tote-bag")),
    },
    {
        "code": "cinema-ticket",
        "title": "吴江影城电影票",
        "points_cost": 300,
        "cash_cents": 1990,
        "qr": deeplinks.example(deeplinks.reward("cinema-ticket")),
    },
]


class Tile(BaseModel):
    """One button: `target` is the next screen's path, or `qr` opens the app on a phone."""

    model_config = ConfigDict(json_schema_extra={"examples": [_tile_example("rewards")]})

    key: str = Field(description="Stable: clients may pick an icon by it.")
    label: str
    target: str | None = Field(default=None, description="The next screen, under `/v1/tv`.")
    qr: Qr | None = None


class PointsLine(BaseModel):
    total: int = Field(examples=[1340])
    available: int = Field(examples=[1280])


class ExpiringLine(BaseModel):
    """Points that lapse within 30 days, and the last local day they can still be used."""

    points: int = Field(examples=[120])
    last_day: date | None = Field(examples=["2026-12-31"])


class NoticeLine(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_NOTICE_LINES[0]]})

    id: uuid.UUID
    title: str
    at: datetime = Field(description="Local time (Asia/Shanghai).")
    unread: bool


class HomeScreen(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "张**",
                    "points": {"total": 1340, "available": 1280},
                    "expiring": {"points": 120, "last_day": "2026-12-31"},
                    "notices": _NOTICE_LINES,
                    "unread": 2,
                    "tiles": [
                        _tile_example("points_history"),
                        _tile_example("rewards"),
                        _tile_example("inbox"),
                        _tile_example("pair_app", deeplinks.open_app()),
                        _tile_example("more"),
                    ],
                }
            ]
        }
    )

    name: str = Field(description="Masked: 张** (or the phone, 138****5678, without a name).")
    points: PointsLine
    expiring: ExpiringLine
    notices: list[NoticeLine] = Field(description="The three newest, read or not.")
    unread: int
    tiles: list[Tile]


class HistoryLine(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_HISTORY_LINES[0]]})

    at: datetime = Field(description="Local time (Asia/Shanghai).")
    kind: HistoryKind
    label: str = Field(description="The behaviour or reward, else the kind, in words.")
    points: int = Field(description="Signed: positive into the wallet, negative out of it.")
    balance_after: int


class HistoryScreen(Page[HistoryLine]):
    """Six movements a screen; `next_cursor` is the remote's "next page"."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": _HISTORY_LINES, "next_cursor": "aDEy"}]}
    )


class RewardCard(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_REWARD_CARDS[0]]})

    code: str
    title: str
    points_cost: int
    cash_cents: int = Field(description="A cash part in fen, paid in the app.")
    qr: Qr = Field(description="Redeem it in the app.")


class RewardsScreen(Page[RewardCard]):
    """Six rewards a screen, each with the QR code that redeems it in the app."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": _REWARD_CARDS, "next_cursor": None}]}
    )


class InboxScreen(Page[NoticeLine]):
    """Six notices a screen; `unread` counts them all."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": _NOTICE_LINES, "next_cursor": None, "unread": 2}]}
    )

    unread: int = Field(description="Every unread notice, not only this page's.")


class Notice(BaseModel):
    """A notice opened on the TV (and so read)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "01a25363-0cd0-7a13-8b24-1c2d3e4f5a6b",
                    "title": "积分到账",
                    "body": "您因「垃圾正确分类投放」获得 2 积分，有效期至 2027年12月31日。"
                    "感谢您为美好吴江出一份力！",
                    "at": "2026-12-08T10:02:10.118000+08:00",
                    "unread": False,
                }
            ]
        }
    )

    id: uuid.UUID
    title: str
    body: str
    at: datetime = Field(description="Local time (Asia/Shanghai).")
    unread: bool


class MoreScreen(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"actions": [_tile_example(key, link) for key, link in MORE_ACTIONS.items()]}
            ]
        }
    )

    actions: list[Tile]


def language_of(setting: str) -> Language:
    """The screens' language from the resident's setting: Chinese unless they chose English."""
    return "en" if setting == "en" else "zh"


def display_name(profile: ResidentProfile) -> str:
    """The masked name if the resident gave one, else the masked phone number."""
    return profile.name or profile.phone


def last_day(expires_at: datetime, zone: tzinfo) -> date:
    """The last local day on which points lapsing at `expires_at` can be used: points that
    lapse at midnight starting 1 January last until 31 December."""
    return (expires_at - timedelta(microseconds=1)).astimezone(zone).date()


def home(
    profile: ResidentProfile,
    summary: PointsSummary,
    notices: Sequence[InboxItemOut],
    *,
    unread: int,
    zone: tzinfo,
) -> HomeScreen:
    """The home screen: who, how many points, what lapses soon, the newest notices, the tiles."""
    language = language_of(profile.language)
    soon = summary.expiring_within_30_days
    return HomeScreen(
        name=display_name(profile),
        points=PointsLine(total=summary.total, available=summary.available),
        expiring=ExpiringLine(
            points=soon.points,
            last_day=last_day(soon.earliest_at, zone) if soon.earliest_at else None,
        ),
        notices=[notice_line(item, zone) for item in notices[:HOME_NOTICES]],
        unread=unread,
        tiles=[
            *(_target_tile(key, language) for key in ("points_history", "rewards", "inbox")),
            _qr_tile("pair_app", deeplinks.open_app(), language),
            _target_tile("more", language),
        ],
    )


def more(language: Language) -> MoreScreen:
    """Account actions, each done in the app through its QR code."""
    return MoreScreen(actions=[_qr_tile(key, link, language) for key, link in MORE_ACTIONS.items()])


def history(
    items: Sequence[HistoryItem], *, next_cursor: str | None, language: Language, zone: tzinfo
) -> HistoryScreen:
    return HistoryScreen(
        next_cursor=next_cursor,
        items=[
            HistoryLine(
                at=item.at.astimezone(zone),
                kind=item.kind,
                label=_history_label(item, language),
                points=item.points,
                balance_after=item.balance_after,
            )
            for item in items
        ],
    )


def rewards(
    shown: Sequence[RewardOut], *, next_cursor: str | None, language: Language
) -> RewardsScreen:
    """A page of what can be redeemed now."""
    return RewardsScreen(
        next_cursor=next_cursor,
        items=[
            RewardCard(
                code=reward.code,
                title=_localised(reward.title, language),
                points_cost=reward.points_cost,
                cash_cents=reward.cash_cents,
                qr=deeplinks.qr(deeplinks.reward(reward.code)),
            )
            for reward in shown
        ],
    )


def inbox(
    items: Sequence[InboxItemOut], *, next_cursor: str | None, unread: int, zone: tzinfo
) -> InboxScreen:
    return InboxScreen(
        next_cursor=next_cursor,
        unread=unread,
        items=[notice_line(item, zone) for item in items],
    )


def notice(item: InboxItemOut, zone: tzinfo) -> Notice:
    return Notice(
        id=item.id,
        title=item.title,
        body=item.body,
        at=item.created_at.astimezone(zone),
        unread=item.read_at is None,
    )


def notice_line(item: InboxItemOut, zone: tzinfo) -> NoticeLine:
    return NoticeLine(
        id=item.id,
        title=item.title,
        at=item.created_at.astimezone(zone),
        unread=item.read_at is None,
    )


def _history_label(item: HistoryItem, language: Language) -> str:
    if item.behaviour is not None:
        return _localised(item.behaviour.title, language)
    if item.reward is not None:
        return _localised(item.reward.title, language)
    return _text(item.kind, language)


def _target_tile(key: str, language: Language) -> Tile:
    return Tile(key=key, label=_text(key, language), target=TARGETS[key])


def _qr_tile(key: str, link: str, language: Language) -> Tile:
    return Tile(key=key, label=_text(key, language), qr=deeplinks.qr(link))


def _text(key: str, language: Language) -> str:
    zh, en = _TEXT[key]
    return en if language == "en" else zh


def _localised(text: LocalisedOut, language: Language) -> str:
    return (text.en or text.zh) if language == "en" else (text.zh or text.en)
