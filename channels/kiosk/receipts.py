"""Receipts as fixed-width text for the kiosks' thermal printers: 32 columns on 58 mm paper,
48 on 80 mm.

East Asian wide and fullwidth characters (`unicodedata.east_asian_width` W or F) take two
columns, everything else one. Every line is exactly the paper's width (padded with spaces), so
the printer never wraps on its own; text too long for a line wraps at a character boundary and
a two-column character never straddles two lines. Values from elsewhere (names, titles) are
cleaned first: control and zero-width characters would break the count, so they go.

Only masked personal data reaches a receipt: it may be left in the tray."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from points.schemas.rewards import RedemptionOut
from points.schemas.views import PointsSummary


class PaperWidth(enum.IntEnum):
    """Columns of a line: 58 mm paper takes 32, 80 mm paper 48."""

    MM58 = 32
    MM80 = 48


WIDTHS = tuple(int(width) for width in PaperWidth)
TITLE = "智慧吴江 积分凭条"
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
Align = Literal["left", "right", "center"]

# Categories whose characters take no column or move the print head: dropped, or made a space.
_AS_SPACE = frozenset({"Cc", "Zl", "Zp", "Zs"})
_DROPPED = frozenset({"Cf", "Cs", "Co", "Cn", "Mn", "Me"})

STATUS_ZH = {
    "issued": "已发放",
    "awaiting_payment": "待支付",
    "used": "已使用",
    "cancelled": "已取消",
    "expired": "已过期",
    "payment_failed": "支付失败",
}
CATEGORY_ZH = (("green", "绿色生活"), ("volunteer", "志愿服务"), ("cogovernance", "社会共治"))


@dataclass(frozen=True)
class Holder:
    """Who the receipt is for, already masked (张*, 138****5678)."""

    name: str | None
    phone: str | None


# --- columns ---------------------------------------------------------------------------------


def char_width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


def display_width(text: str) -> int:
    """How many printer columns `text` takes."""
    return sum(char_width(char) for char in text)


def clean(text: str) -> str:
    """`text` with only characters that take the columns `char_width` says: NFC-composed,
    line breaks, tabs and other spaces as plain spaces, control and zero-width characters
    dropped."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category in _AS_SPACE:
            out.append(" ")
        elif category not in _DROPPED:
            out.append(char)
    return "".join(out)


def split_columns(text: str, width: int) -> list[str]:
    """`text` cut at character boundaries into pieces of at most `width` columns, each as full
    as it can be; joined, the pieces are `text` again. Empty text is one empty piece."""
    if width < 2:
        raise ValueError("a line needs room for a two-column character")
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        columns = char_width(char)
        if used + columns > width:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += columns
    pieces.append("".join(current))
    return pieces


def pad(text: str, width: int, align: Align = "left") -> str:
    """`text` (at most `width` columns) padded with spaces to exactly `width` columns."""
    room = width - display_width(text)
    if room < 0:
        raise ValueError("text wider than the line")
    if align == "right":
        return " " * room + text
    if align == "center":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room


def wrap(text: str, width: int, align: Align = "left") -> list[str]:
    """`text` as lines of exactly `width` columns."""
    return [pad(piece, width, align) for piece in split_columns(text, width)]


def pair(label: str, value: str, width: int) -> list[str]:
    """`label` on the left and `value` on the right of one line if both fit with a space
    between them; else the label's lines, then the value's lines aligned right."""
    room = width - display_width(label) - display_width(value)
    if room >= 1:
        return [label + " " * room + value]
    return wrap(label, width) + wrap(value, width, "right")


# --- receipts --------------------------------------------------------------------------------


class Receipt:
    """A receipt being laid out, line by line, for one paper width."""

    def __init__(self, width: int) -> None:
        if width not in WIDTHS:
            raise ValueError(f"width must be one of {WIDTHS}")
        self.width = width
        self.lines: list[str] = []

    def text(self, value: str, align: Align = "left") -> Receipt:
        self.lines += wrap(clean(value), self.width, align)
        return self

    def pair(self, label: str, value: str) -> Receipt:
        self.lines += pair(clean(label), clean(value), self.width)
        return self

    def rule(self) -> Receipt:
        self.lines.append("-" * self.width)
        return self

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"


def balance_receipt(
    *, width: int, summary: PointsSummary, holder: Holder, kiosk_name: str, at: datetime
) -> str:
    """The resident's balance, what is held, by category, and what lapses within 30 days."""
    receipt = _header(Receipt(width), "积分余额", holder)
    receipt.pair("可用积分", str(summary.available))
    receipt.pair("兑换冻结", str(summary.held))
    receipt.pair("积分合计", str(summary.total))
    categories = summary.by_category.model_dump()
    for code, label in CATEGORY_ZH:
        receipt.pair(f"  {label}", str(categories.get(code, 0)))
    soon = summary.expiring_within_30_days
    receipt.pair("30天内到期", str(soon.points))
    if soon.earliest_at is not None:
        receipt.pair("最早到期", _local(soon.earliest_at))
    return _footer(receipt, kiosk_name, at, ["请妥善保管本凭条"])


def redemption_receipt(
    *,
    width: int,
    redemption: RedemptionOut,
    available: int,
    holder: Holder,
    kiosk_name: str,
    at: datetime,
) -> str:
    """A redemption with its voucher code, for the resident to take to the merchant."""
    receipt = _header(Receipt(width), "兑换凭证", holder)
    receipt.pair("礼品", redemption.title.zh)
    receipt.pair("商户", redemption.merchant)
    receipt.pair("消耗积分", str(redemption.points))
    if redemption.cash_cents:
        receipt.pair("现金", f"¥{redemption.cash_cents // 100}.{redemption.cash_cents % 100:02d}")
    receipt.pair("状态", STATUS_ZH.get(redemption.status, redemption.status))
    receipt.pair("有效期至", _local(redemption.expires_at))
    receipt.rule()
    if redemption.voucher_code:
        receipt.text("券码", "center")
        receipt.text(group(redemption.voucher_code), "center")
        notes = ["请凭券码到商户核销", "券码请勿告知他人"]
    else:
        receipt.text("（无可用券码）", "center")
        notes = ["请妥善保管本凭条"]
    receipt.rule()
    receipt.pair("剩余可用积分", str(available))
    return _footer(receipt, kiosk_name, at, notes)


def group(code: str, size: int = 4) -> str:
    """A voucher code in groups of `size`, easier to read out (cashiers may type the spaces)."""
    return " ".join(code[i : i + size] for i in range(0, len(code), size))


def _header(receipt: Receipt, subtitle: str, holder: Holder) -> Receipt:
    receipt.text(TITLE, "center").text(subtitle, "center").rule()
    if holder.name:
        receipt.pair("居民", holder.name)
    if holder.phone:
        receipt.pair("手机", holder.phone)
    return receipt.rule()


def _footer(receipt: Receipt, kiosk_name: str, at: datetime, notes: Sequence[str]) -> str:
    receipt.rule().pair("时间", _local(at)).pair("终端", kiosk_name).rule()
    for note in notes:
        receipt.text(note, "center")
    return receipt.render()


def _local(at: datetime) -> str:
    return at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")
