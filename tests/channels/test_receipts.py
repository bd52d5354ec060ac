"""Thermal receipts: every line exactly the paper's width, CJK counted as two columns and never
split, and nothing of the content lost in the wrapping."""

from __future__ import annotations

import itertools
import unicodedata
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from channels.kiosk import receipts
from channels.kiosk.receipts import Holder
from points.schemas.behaviours import LocalisedOut
from points.schemas.rewards import RedemptionOut
from points.schemas.views import CategoryBalances, ExpiringSoon, PointsSummary

AT = datetime(2026, 11, 10, 4, 5, tzinfo=UTC)  # 12:05 in Wujiang
WIDTHS = st.sampled_from([32, 48])
# Printable text as residents' names, reward titles and kiosk names come: CJK, fullwidth and
# halfwidth forms, Latin, digits, punctuation, emoji, plain spaces.
PRINTABLE = st.characters(
    categories=("Lu", "Ll", "Lo", "Nd", "Po", "Ps", "Pe", "Sm", "So", "Sc"),
    exclude_characters="\x85",
) | st.sampled_from(list("智慧吴江积分凭条张三丰松陵：（）ＡＢ ｶ①—·😀 "))


def columns(text: str) -> int:
    """The display width, computed here independently of the module under test."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def summary(**overrides: object) -> PointsSummary:
    fields: dict[str, object] = {
        "total": 60,
        "available": 55,
        "held": 5,
        "by_category": CategoryBalances(green=35, volunteer=20),
        "expiring_within_30_days": ExpiringSoon(
            points=35, earliest_at=datetime(2026, 11, 13, 4, tzinfo=UTC)
        ),
    }
    return PointsSummary.model_validate(fields | overrides)


def redemption(**overrides: object) -> RedemptionOut:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "reward": "tote-bag",
        "title": LocalisedOut(zh="环保袋", en="Tote bag"),
        "merchant": "songling-mart",
        "status": "issued",
        "points": 50,
        "cash_cents": 0,
        "voucher_code": "0123456789ABCDEFGHJKMNPQRS",
        "qr_payload": "wjv1:0123456789ABCDEFGHJKMNPQRS",
        "expires_at": datetime(2026, 12, 10, 4, tzinfo=UTC),
        "created_at": AT,
        "issued_at": AT,
        "closed_at": None,
    }
    return RedemptionOut.model_validate(fields | overrides)


def assert_laid_out(text: str, width: int) -> list[str]:
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    for line in lines:
        assert columns(line) == width, (line, columns(line))
    return lines


# --- the primitives, by property -------------------------------------------------------------


@given(text=st.text(PRINTABLE, max_size=200), width=WIDTHS)
def test_wrapped_lines_are_exactly_the_width_and_keep_every_character(
    text: str, width: int
) -> None:
    pieces = receipts.split_columns(text, width)
    lines = receipts.wrap(text, width)

    assert "".join(pieces) == text
    assert len(lines) == len(pieces)
    for piece, line in zip(pieces, lines, strict=True):
        assert columns(line) == width
        assert line == piece + " " * (width - columns(piece))
    # Greedy, and a two-column character moves whole to the next line rather than split.
    for piece, following in itertools.pairwise(pieces):
        assert columns(piece) + columns(following[0]) > width


@given(text=st.text(PRINTABLE, min_size=1, max_size=60), width=WIDTHS)
def test_right_and_centred_lines_are_exactly_the_width(text: str, width: int) -> None:
    for align in ("right", "center"):
        lines = receipts.wrap(text, width, align)  # type: ignore[arg-type]
        assert all(columns(line) == width for line in lines)
        assert "".join(line.strip(" ") for line in lines) == "".join(
            piece.strip(" ") for piece in receipts.split_columns(text, width)
        )


@given(
    label=st.text(PRINTABLE, min_size=1, max_size=30),
    value=st.text(PRINTABLE, min_size=1, max_size=80),
    width=WIDTHS,
)
def test_pairs_are_exactly_the_width_and_keep_label_and_value(
    label: str, value: str, width: int
) -> None:
    lines = receipts.pair(label, value, width)

    assert all(columns(line) == width for line in lines)
    if len(lines) == 1:
        assert lines[0].startswith(label)
        assert lines[0].endswith(value)
    else:
        label_lines = receipts.split_columns(label, width)
        assert [line.rstrip(" ") for line in lines[: len(label_lines)]] == [
            piece.rstrip(" ") for piece in label_lines
        ]
        value_lines = lines[len(label_lines) :]
        assert [line.lstrip(" ") for line in value_lines] == [
            piece.lstrip(" ") for piece in receipts.split_columns(value, width)
        ]


@given(text=st.text(max_size=100))
def test_cleaning_leaves_only_characters_that_take_their_columns(text: str) -> None:
    cleaned = receipts.clean(text)

    for char in cleaned:
        assert unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"}
        assert char not in "\n\r\t\x0b\x0c\u2028\u2029"
    assert receipts.clean(cleaned) == cleaned


def test_a_wide_character_with_one_column_left_goes_whole_to_the_next_line() -> None:
    text = "a" * 31 + "吴江"

    lines = receipts.wrap(text, 32)

    assert lines == ["a" * 31 + " ", "吴江" + " " * 28]


# --- whole receipts ----------------------------------------------------------------------------


def test_balance_receipt_at_32_columns() -> None:
    text = receipts.balance_receipt(
        width=32,
        summary=summary(),
        holder=Holder(name="张**", phone="138****5678"),
        kiosk_name="松陵街道便民服务中心1号机",
        at=AT,
    )

    assert text == (
        "       智慧吴江 积分凭条        \n"
        "            积分余额            \n"
        "--------------------------------\n"
        "居民                        张**\n"
        "手机                 138****5678\n"
        "--------------------------------\n"
        "可用积分                      55\n"
        "兑换冻结                       5\n"
        "积分合计                      60\n"
        "  绿色生活                    35\n"
        "  志愿服务                    20\n"
        "  社会共治                     0\n"
        "30天内到期                    35\n"
        "最早到期        2026-11-13 12:00\n"
        "--------------------------------\n"
        "时间            2026-11-10 12:05\n"
        "终端   松陵街道便民服务中心1号机\n"
        "--------------------------------\n"
        "        请妥善保管本凭条        \n"
    )
    assert_laid_out(text, 32)


def test_balance_receipt_at_48_columns_wraps_a_long_kiosk_name() -> None:
    name = "吴江区松陵街道便民服务中心一楼大厅自助一体机第一号"  # 25 characters, 50 columns

    text = receipts.balance_receipt(
        width=48,
        summary=summary(expiring_within_30_days=ExpiringSoon()),
        holder=Holder(name=None, phone="138****5678"),
        kiosk_name=name,
        at=AT,
    )

    lines = assert_laid_out(text, 48)
    assert lines[0] == " " * 15 + "智慧吴江 积分凭条" + " " * 16
    assert "居民" not in text
    assert "最早到期" not in text
    at = lines.index("终端" + " " * 44)
    assert lines[at + 1] == "吴江区松陵街道便民服务中心一楼大厅自助一体机第一"
    assert lines[at + 2] == " " * 46 + "号"


def test_redemption_receipt_carries_the_voucher_code_in_groups() -> None:
    for width in (32, 48):
        text = receipts.redemption_receipt(
            width=width,
            redemption=redemption(title=LocalisedOut(zh="吴江丝绸博物馆门票（成人票）", en="x")),
            available=5,
            holder=Holder(name="张*", phone="138****5678"),
            kiosk_name="松陵1号机",
            at=AT,
        )

        lines = assert_laid_out(text, width)
        code = "0123 4567 89AB CDEF GHJK MNPQ RS"
        assert any(line.strip() == code for line in lines)
        assert "兑换凭证" in text
        assert "已发放" in text
        assert "2026-12-10 12:00" in text
        assert lines[-2].strip() == "请凭券码到商户核销"


def test_a_redemption_without_a_voucher_prints_none() -> None:
    text = receipts.redemption_receipt(
        width=32,
        redemption=redemption(status="cancelled", voucher_code=None, qr_payload=None),
        available=55,
        holder=Holder(name=None, phone=None),
        kiosk_name="松陵1号机",
        at=AT,
    )

    assert_laid_out(text, 32)
    assert "券码" not in text.replace("（无可用券码）", "")
    assert "已取消" in text


def test_control_characters_in_names_do_not_break_the_layout() -> None:
    text = receipts.balance_receipt(
        width=32,
        summary=summary(),
        holder=Holder(name="张*", phone="138****5678"),
        kiosk_name="松陵\n1号机\x1b[2J\u200b",
        at=AT,
    )

    assert_laid_out(text, 32)
    assert "松陵 1号机" in text
    assert "\x1b" not in text
    assert "\u200b" not in text


@given(
    kiosk_name=st.text(PRINTABLE, min_size=1, max_size=60),
    name=st.text(PRINTABLE, max_size=10),
    points=st.integers(min_value=0, max_value=10**9),
    width=WIDTHS,
)
def test_every_balance_receipt_is_laid_out_exactly(
    kiosk_name: str, name: str, points: int, width: int
) -> None:
    text = receipts.balance_receipt(
        width=width,
        summary=summary(available=points, total=points + 5),
        holder=Holder(name=name or None, phone="138****5678"),
        kiosk_name=kiosk_name,
        at=AT,
    )

    assert_laid_out(text, width)
    squeezed = text.replace(" ", "").replace("\n", "")
    assert receipts.clean(kiosk_name).replace(" ", "") in squeezed
    assert str(points) in squeezed
    assert receipts.TITLE.replace(" ", "") in squeezed


@given(title=st.text(PRINTABLE, min_size=1, max_size=80), width=WIDTHS)
def test_every_redemption_receipt_is_laid_out_exactly(title: str, width: int) -> None:
    text = receipts.redemption_receipt(
        width=width,
        redemption=redemption(title=LocalisedOut(zh=title, en="x")),
        available=0,
        holder=Holder(name="王*", phone="139****0000"),
        kiosk_name="松陵1号机",
        at=AT,
    )

    assert_laid_out(text, width)
    assert receipts.clean(title).replace(" ", "") in text.replace(" ", "").replace("\n", "")
