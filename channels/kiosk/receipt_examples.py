"""The receipts the contract shows: laid out by the real receipt functions from made-up, masked
data, so the documented text is exactly what a kiosk prints (widths, alignment, wrapping)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from channels.kiosk import receipts
from points.schemas.behaviours import LocalisedOut
from points.schemas.rewards import RedemptionOut
from points.schemas.views import CategoryBalances, ExpiringSoon, PointsSummary

KIOSK_NAME = "松陵街道便民服务中心1号机"
HOLDER = receipts.Holder(name="张**", phone="138****5678")
PRINTED_AT = datetime(2026, 12, 8, 2, 21, tzinfo=UTC)  # 10:21 in Wujiang
SUMMARY = PointsSummary(
    total=1340,
    available=1280,
    held=60,
    by_category=CategoryBalances(green=860, volunteer=320, cogovernance=100),
    # Points lapse as 1 January begins, local time.
    expiring_within_30_days=ExpiringSoon(
        points=120, earliest_at=datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    ),
)
REDEMPTION = RedemptionOut(
    id=uuid.UUID("01a2ee1c-5a40-7b12-9c3d-4e5f6a7b8c9d"),
    reward="tote-bag",
    title=LocalisedOut(zh="环保帆布袋", en="Canvas tote bag"),
    merchant="吴江区供销合作社松陵门店",
    status="issued",
    points=60,
    cash_cents=0,
    voucher_code="7KQ2M9XRTB4D8WHN3PZC6VJA5F",
    qr_payload="wjv1:7KQ2M9XRTB4D8WHN3PZC6VJA5F",
    expires_at=datetime(2027, 1, 7, 15, 59, 59, tzinfo=UTC),
    created_at=datetime(2026, 12, 8, 2, 19, 40, tzinfo=UTC),
    issued_at=datetime(2026, 12, 8, 2, 19, 40, tzinfo=UTC),
    closed_at=None,
)


def balance(width: receipts.PaperWidth) -> str:
    return receipts.balance_receipt(
        width=width, summary=SUMMARY, holder=HOLDER, kiosk_name=KIOSK_NAME, at=PRINTED_AT
    )


def redemption(width: receipts.PaperWidth) -> str:
    return receipts.redemption_receipt(
        width=width,
        redemption=REDEMPTION,
        available=SUMMARY.available,
        holder=HOLDER,
        kiosk_name=KIOSK_NAME,
        at=PRINTED_AT,
    )


def openapi_examples(receipt: str) -> dict[str, dict[str, str]]:
    """`receipt` ("balance" or "redemption") at both paper widths, as OpenAPI examples."""
    layout = balance if receipt == "balance" else redemption
    return {
        f"{int(width)}-columns": {
            "summary": f"{int(width)} columns ({'58' if width == 32 else '80'} mm paper)",
            "value": layout(width),
        }
        for width in receipts.PaperWidth
    }
