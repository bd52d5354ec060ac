"""Merchant cashiers: verify and consume residents' vouchers.

A cashier holds `merchant_cashier` with the merchant's code as the grant's community; a voucher of
any other merchant answers exactly like a code that does not exist. Lookups are rate-limited per
cashier, so codes cannot be guessed from a till."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

import points
from api.deps import Session
from api.idempotency import idempotent
from api.principal import StaffPrincipal, require_staff
from api.routing import contract_router
from core import ratelimit
from core.ratelimit import RateLimited
from core.redis import get_redis
from identity.models import StaffRole
from mobile_contract.problems import raises
from points.errors import RedemptionNotFound, VoucherNotUsable
from points.schemas.rewards import VoucherView

router = contract_router(prefix="/v1/merchant/vouchers", tags=["staff"])

LOOKUPS_PER_WINDOW = 30
WINDOW_SECONDS = 60

cashier_role = require_staff(StaffRole.MERCHANT_CASHIER)
Cashier = Annotated[StaffPrincipal, Depends(cashier_role)]
CashierKey = idempotent(cashier_role, required=True)


class VoucherCodeIn(BaseModel):
    """The voucher's code as scanned (`wjv1:` and the code) or typed: case, spaces and dashes
    do not matter, and O, I and L are read as 0, 1 and 1."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": "wjv1:841BJYXJK4FR29HECGGTX808QA"}]}
    )

    code: Annotated[
        str, Field(min_length=1, max_length=100, description="Typed, or the scanned QR payload.")
    ]


def _merchants(cashier: StaffPrincipal) -> frozenset[str]:
    return frozenset(
        merchant for role, merchant in cashier.roles if role == StaffRole.MERCHANT_CASHIER.value
    )


async def _count_lookup(cashier: StaffPrincipal) -> None:
    await ratelimit.hit(
        get_redis(),
        bucket=f"voucher-lookup:staff:{cashier.staff_id}",
        limit=LOOKUPS_PER_WINDOW,
        window_seconds=WINDOW_SECONDS,
    )


@router.post("/verify", summary="What a voucher is, without using it")
@raises(RedemptionNotFound, RateLimited)
async def verify_voucher(session: Session, cashier: Cashier, body: VoucherCodeIn) -> VoucherView:
    """What the voucher is for and whether it can be used now (`usable`; `status` says why
    not). Changes nothing. A voucher of another merchant is `redemption-not-found`, like a
    code that does not exist; lookups (verify and consume together) are limited to 30 a
    minute per cashier (`rate-limited`, with `Retry-After`)."""
    await _count_lookup(cashier)
    return await points.verify_voucher(session, code=body.code, merchants=_merchants(cashier))


@router.post("/consume", summary="Use a voucher")
@raises(RedemptionNotFound, VoucherNotUsable, RateLimited)
async def consume_voucher(
    session: Session,
    cashier: Cashier,
    body: VoucherCodeIn,
    idempotency_key: Annotated[str, CashierKey],
) -> VoucherView:
    """The resident's held points go to the merchant; the voucher is used. Hand over the
    reward only on a 200. A retry by the same cashier with the same Idempotency-Key answers
    the same; any other attempt on a used, expired or cancelled voucher is
    `voucher-not-usable` (with `voucher_status`)."""
    await _count_lookup(cashier)
    return await points.consume_voucher(
        session,
        code=body.code,
        merchants=_merchants(cashier),
        staff_id=cashier.staff_id,
        idempotency_key=idempotency_key,
    )
