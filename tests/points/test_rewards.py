"""The rewards catalogue and redemptions through the service functions: parsing, redeeming,
cancelling, expiring and consuming, with the ledger checked after each story.

The helpers at the top (`reward_yaml`, `add_reward`, `fund`) are shared with the HTTP tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import ledger
import notifications
import points
from core import clock
from core.ids import new_id
from points import accounts
from points.errors import (
    IdempotencyKeyReused,
    InsufficientPoints,
    InvalidReward,
    RedemptionLimitReached,
    RedemptionNotCancellable,
    RedemptionNotFound,
    RewardNotFound,
    RewardUnavailable,
    SoldOut,
    VoucherNotUsable,
)
from points.models import Redemption, RewardClaim
from points.schemas.rewards import RewardIn, RewardPatch
from points.service import vouchers

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def reward_fields(code: str = "tote-bag", **overrides: Any) -> dict[str, Any]:
    return {
        "code": code,
        "kind": "gift",
        "title": {"zh": "环保袋", "en": "Tote bag"},
        "description": {"zh": "帆布环保袋一个", "en": "One canvas tote bag"},
        "points_cost": 50,
        "stock": 10,
        "merchant": "songling-mart",
        "voucher_valid_days": 30,
        **overrides,
    }


def reward_yaml(*rewards: dict[str, Any]) -> str:
    return yaml.safe_dump({"rewards": list(rewards)}, allow_unicode=True)


async def add_reward(session: AsyncSession, code: str = "tote-bag", **overrides: Any) -> Any:
    [added] = await points.add_rewards(
        session, rewards=[RewardIn.model_validate(reward_fields(code, **overrides))]
    )
    return added


async def fund(session: AsyncSession, resident_id: uuid.UUID, amount: int) -> None:
    """Credit `amount` points to the resident's wallet from the green issuer."""
    wallet = await accounts.open_wallet(session, resident_id)
    issuer = await accounts.open_issuer(session, "green")
    await ledger.post_entry(
        session,
        key=f"test-fund:{new_id()}",
        postings=[
            ledger.PostingIn(account=issuer, amount=-amount),
            ledger.PostingIn(
                account=wallet, amount=amount, expires_at=clock.now() + timedelta(days=700)
            ),
        ],
        actor="test",
    )


async def balance(session: AsyncSession, resident_id: uuid.UUID) -> int:
    return await ledger.balance(session, account=accounts.wallet(resident_id))


async def stock_left(session: AsyncSession, code: str) -> int:
    return (await points.get_reward(session, code=code, public=False)).stock_left


async def redemption_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Redemption))).scalar_one())


async def claim_of(session: AsyncSession, resident_id: uuid.UUID) -> int:
    query = select(RewardClaim.count).where(RewardClaim.resident_id == resident_id)  # type: ignore[arg-type]
    return int((await session.execute(query)).scalar_one_or_none() or 0)


async def assert_ledger_ok(session: AsyncSession) -> None:
    report = await ledger.verify(session)
    assert report.ok, report.violations


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with clock.frozen(NOW):
        yield


async def redeem(session: AsyncSession, resident_id: uuid.UUID, code: str = "tote-bag", key=None):
    return await points.redeem(
        session, resident_id=resident_id, reward_code=code, idempotency_key=key or str(new_id())
    )


# --- the catalogue file ----------------------------------------------------------------------


def test_a_file_of_rewards_parses() -> None:
    parsed = points.parse_rewards(
        reward_yaml(
            reward_fields(),
            reward_fields("haircut", kind="service", cash_cents=1500, per_resident_limit=1),
        )
    )

    assert [r.code for r in parsed] == ["tote-bag", "haircut"]
    assert parsed[1].cash_cents == 1500
    assert parsed[1].per_resident_limit == 1


def test_one_reward_alone_or_a_bare_list_is_accepted() -> None:
    single = yaml.safe_dump(reward_fields(), allow_unicode=True)
    bare = yaml.safe_dump([reward_fields(), reward_fields("mug")], allow_unicode=True)

    assert [r.code for r in points.parse_rewards(single)] == ["tote-bag"]
    assert [r.code for r in points.parse_rewards(bare)] == ["tote-bag", "mug"]


def test_every_problem_is_named_with_its_path() -> None:
    document = reward_yaml(
        reward_fields(kind="car", points_cost=-1),
        reward_fields("tote-bag", colour="red"),
        reward_fields("free", points_cost=0),
        reward_fields(
            "late",
            valid_from=datetime(2026, 12, 2, tzinfo=UTC),
            valid_until=datetime(2026, 12, 1, tzinfo=UTC),
        ),
    )

    with pytest.raises(InvalidReward) as caught:
        points.parse_rewards(document)

    paths = {problem["path"] for problem in caught.value.extensions["errors"]}
    assert {"rewards[0].kind", "rewards[0].points_cost", "rewards[1].colour"} <= paths
    assert "rewards[0].code" in paths  # used twice
    messages = " ".join(p["message"] for p in caught.value.extensions["errors"])
    assert "must cost points, cash, or both" in messages
    assert "valid_until must be later than valid_from" in messages


def test_not_yaml_is_refused_with_its_line() -> None:
    with pytest.raises(InvalidReward) as caught:
        points.parse_rewards("rewards: [unclosed")
    assert caught.value.extensions["errors"][0]["path"].startswith("line ")


async def test_codes_are_unique(session: AsyncSession) -> None:
    await add_reward(session)

    with pytest.raises(InvalidReward) as caught:
        await add_reward(session)

    assert caught.value.extensions["errors"][0]["message"] == "reward 'tote-bag' exists already"


async def test_the_public_list_shows_what_can_be_redeemed_now(session: AsyncSession) -> None:
    await add_reward(session, "open")
    await add_reward(session, "later", valid_from=NOW + timedelta(days=1))
    await add_reward(session, "over", valid_until=NOW)
    await add_reward(session, "empty", stock=0)
    await add_reward(session, "off", active=False)

    listed = [r.code for r in await points.list_rewards(session)]
    everything = [r.code for r in await points.list_rewards(session, available_only=False)]

    assert listed == ["open"]
    assert everything == ["empty", "later", "off", "open", "over"]
    with pytest.raises(RewardNotFound):
        await points.get_reward(session, code="off")


async def test_restock_and_deactivate(session: AsyncSession) -> None:
    await add_reward(session, stock=2)

    restocked = await points.update_reward(session, code="tote-bag", patch=RewardPatch(restock=3))
    withdrawn = await points.update_reward(
        session, code="tote-bag", patch=RewardPatch(active=False)
    )

    assert (restocked.stock_total, restocked.stock_left) == (5, 5)
    assert withdrawn.active is False
    with pytest.raises(RewardUnavailable):
        await redeem(session, uuid.uuid4())


# --- redeeming ---------------------------------------------------------------------------------


async def test_redeeming_holds_points_and_stock_and_issues_a_voucher(
    session: AsyncSession,
) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 120)
    await add_reward(session, stock=3, voucher_valid_days=7)

    out = await redeem(session, resident)

    assert out.status == "issued"
    assert out.points == 50
    assert out.voucher_code is not None
    assert len(out.voucher_code) == 26
    assert vouchers.normalise(out.voucher_code) == out.voucher_code
    assert out.qr_payload == f"wjv1:{out.voucher_code}"
    assert out.expires_at == NOW + timedelta(days=7)
    assert await balance(session, resident) == 70
    assert await stock_left(session, "tote-bag") == 2
    assert await claim_of(session, resident) == 1
    [notice] = await notifications.pending(session, topic="rewards.redeemed")
    assert notice.resident_id == resident
    assert notice.payload["redemption_id"] == str(out.id)
    assert out.voucher_code not in str(notice.payload)
    await assert_ledger_ok(session)


async def test_the_same_key_is_the_same_redemption(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 500)
    await add_reward(session)
    await add_reward(session, "mug")

    first = await redeem(session, resident, key="k-1")
    again = await redeem(session, resident, key="k-1")

    assert again.id == first.id
    assert again.replayed
    assert not first.replayed
    assert await balance(session, resident) == 450
    with pytest.raises(IdempotencyKeyReused):
        await redeem(session, resident, "mug", key="k-1")


async def test_refusals_write_nothing(session: AsyncSession) -> None:
    poor, rich = uuid.uuid4(), uuid.uuid4()
    await fund(session, poor, 49)
    await fund(session, rich, 1000)
    await add_reward(session, stock=1, per_resident_limit=1)

    with pytest.raises(InsufficientPoints) as too_few:
        await redeem(session, poor)
    with pytest.raises(RewardNotFound):
        await redeem(session, rich, "nothing")
    await redeem(session, rich)
    with pytest.raises(RedemptionLimitReached):
        await redeem(session, rich)
    with pytest.raises(SoldOut):
        await redeem(session, uuid.uuid4())

    assert too_few.value.extensions == {"balance": 49, "needed": 50}
    assert await redemption_count(session) == 1
    assert await balance(session, poor) == 49


async def test_a_resident_without_a_wallet_has_no_points(session: AsyncSession) -> None:
    await add_reward(session)

    with pytest.raises(InsufficientPoints) as caught:
        await redeem(session, uuid.uuid4())

    assert caught.value.extensions == {"balance": 0, "needed": 50}


async def test_a_reward_outside_its_window_cannot_be_redeemed(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 100)
    await add_reward(session, "soon", valid_from=NOW + timedelta(hours=1))

    with pytest.raises(RewardUnavailable):
        await redeem(session, resident, "soon")


# --- cancelling, expiring --------------------------------------------------------------------


async def test_cancelling_gives_everything_back_once(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 100)
    await add_reward(session, stock=1, per_resident_limit=1)
    out = await redeem(session, resident)

    cancelled = await points.cancel_redemption(session, resident_id=resident, redemption_id=out.id)
    again = await points.cancel_redemption(session, resident_id=resident, redemption_id=out.id)

    assert cancelled.status == "cancelled"
    assert cancelled.voucher_code is None
    assert again == cancelled
    assert await balance(session, resident) == 100
    assert await stock_left(session, "tote-bag") == 1
    assert await claim_of(session, resident) == 0
    await redeem(session, resident)  # the limit is free again
    with pytest.raises(RedemptionNotFound):
        await points.cancel_redemption(session, resident_id=uuid.uuid4(), redemption_id=out.id)
    await assert_ledger_ok(session)


async def test_a_used_voucher_cannot_be_cancelled(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 100)
    await add_reward(session)
    out = await redeem(session, resident)
    await consume(session, out.voucher_code)

    with pytest.raises(RedemptionNotCancellable):
        await points.cancel_redemption(session, resident_id=resident, redemption_id=out.id)


async def test_the_sweep_expires_unused_vouchers(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 200)
    await add_reward(session, stock=5, voucher_valid_days=1)
    await add_reward(session, "long", stock=5, voucher_valid_days=10)
    short = await redeem(session, resident)
    long = await redeem(session, resident, "long")

    early = await points.expire_vouchers(session, now=NOW + timedelta(hours=23))
    expired = await points.expire_vouchers(session, now=NOW + timedelta(days=1))
    again = await points.expire_vouchers(session, now=NOW + timedelta(days=1))

    assert (early, expired, again) == (0, 1, 0)
    mine = await points.list_redemptions(session, resident_id=resident)
    assert {r.id: r.status for r in mine.items} == {short.id: "expired", long.id: "issued"}
    assert await balance(session, resident) == 150
    assert await stock_left(session, "tote-bag") == 5
    [notice] = await notifications.pending(session, topic="rewards.voucher_expired")
    assert notice.payload["redemption_id"] == str(short.id)
    await assert_ledger_ok(session)


async def test_unused_vouchers_are_reminded_once_three_days_before_they_lapse(
    session: AsyncSession,
) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 500)
    await add_reward(session, "soon", stock=5, voucher_valid_days=2)
    await add_reward(session, "later", stock=5, voucher_valid_days=10)
    await add_reward(session, "kept", stock=5, voucher_valid_days=2)
    soon = await redeem(session, resident, "soon")
    await redeem(session, resident, "later")
    cancelled = await redeem(session, resident, "kept")
    await points.cancel_redemption(session, resident_id=resident, redemption_id=cancelled.id)

    first = await points.remind_expiring_vouchers(session, now=NOW, limit=1)
    rest = await points.remind_expiring_vouchers(session, now=NOW, after=first[1], limit=1)
    again = await points.remind_expiring_vouchers(session, now=NOW)

    assert first == (1, soon.id)  # a full page: there may be more
    assert rest == (0, None)
    assert again == (1, None)  # seen again, queued no second time
    [notice] = await notifications.pending(session, topic="rewards.voucher_expiring")
    assert notice.payload["redemption_id"] == str(soon.id)
    assert notice.payload["expires_at"] == soon.expires_at.isoformat()
    assert soon.voucher_code
    assert soon.voucher_code not in str(notice.payload)  # whoever reads it cannot spend it


async def test_vouchers_page_newest_first_with_a_status_filter(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 1000)
    await add_reward(session, points_cost=10)
    made = []
    for _ in range(5):
        made.append(await redeem(session, resident))
        clock.advance(timedelta(seconds=1))
    await points.cancel_redemption(session, resident_id=resident, redemption_id=made[0].id)

    first = await points.list_redemptions(session, resident_id=resident, limit=2)
    second = await points.list_redemptions(
        session, resident_id=resident, limit=2, cursor=first.next_cursor
    )
    third = await points.list_redemptions(
        session, resident_id=resident, limit=2, cursor=second.next_cursor
    )
    issued = await points.list_redemptions(session, resident_id=resident, statuses=["issued"])

    ids = [r.id for page in (first, second, third) for r in page.items]
    assert ids == [r.id for r in reversed(made)]
    assert third.next_cursor is None
    assert [r.id for r in issued.items] == [r.id for r in reversed(made[1:])]


# --- the cashier -------------------------------------------------------------------------------

CASHIER = uuid.UUID("00000000-0000-7000-8000-000000000001")


async def consume(session: AsyncSession, code: str | None, key: str = "use-1", **kwargs: Any):
    assert code is not None
    return await points.consume_voucher(
        session,
        code=code,
        merchants=kwargs.get("merchants", {"songling-mart"}),
        staff_id=kwargs.get("staff_id", CASHIER),
        idempotency_key=key,
    )


async def test_consuming_posts_the_points_to_the_merchant(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 100)
    await add_reward(session)
    out = await redeem(session, resident)
    assert out.voucher_code is not None
    typed = "-".join(out.voucher_code[i : i + 4] for i in range(0, 26, 4)).lower()

    seen = await points.verify_voucher(session, code=typed, merchants={"songling-mart"})
    used = await consume(session, f"wjv1:{out.voucher_code}")
    retried = await consume(session, out.voucher_code)

    assert seen.usable
    assert seen.status == "issued"
    assert used.status == "used"
    assert not used.usable
    assert retried.replayed
    assert retried.redemption_id == used.redemption_id
    assert await ledger.balance(session, account="redeemed:songling-mart") == 50
    assert await balance(session, resident) == 50
    with pytest.raises(VoucherNotUsable) as twice:
        await consume(session, out.voucher_code, key="use-2")
    assert twice.value.extensions == {"voucher_status": "used"}
    with pytest.raises(VoucherNotUsable):
        await consume(session, out.voucher_code, staff_id=uuid.uuid4())
    await assert_ledger_ok(session)


async def test_other_merchants_vouchers_look_unknown(session: AsyncSession) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 100)
    await add_reward(session)
    out = await redeem(session, resident)
    assert out.voucher_code is not None

    with pytest.raises(RedemptionNotFound) as foreign:
        await points.verify_voucher(session, code=out.voucher_code, merchants={"other-shop"})
    with pytest.raises(RedemptionNotFound) as unknown:
        await points.verify_voucher(session, code=vouchers.new_code(), merchants={"songling-mart"})
    with pytest.raises(RedemptionNotFound):
        await points.verify_voucher(session, code="nonsense", merchants={"*"})

    assert foreign.value.detail == unknown.value.detail
    everywhere = await points.verify_voucher(session, code=out.voucher_code, merchants={"*"})
    assert everywhere.usable


async def test_an_expired_voucher_is_not_usable_even_before_the_sweep(
    session: AsyncSession,
) -> None:
    resident = uuid.uuid4()
    await fund(session, resident, 100)
    await add_reward(session, voucher_valid_days=1)
    out = await redeem(session, resident)
    clock.advance(timedelta(days=1))

    seen = await points.verify_voucher(
        session, code=out.voucher_code or "", merchants={"songling-mart"}
    )
    with pytest.raises(VoucherNotUsable) as caught:
        await consume(session, out.voucher_code)

    assert seen.status == "expired"
    assert not seen.usable
    assert caught.value.extensions == {"voucher_status": "expired"}


# --- codes ---------------------------------------------------------------------------------------


def test_codes_are_long_and_distinct() -> None:
    codes = {vouchers.new_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(len(c) == 26 and set(c) <= set(vouchers.ALPHABET) for c in codes)


@given(st.text(max_size=40))
def test_normalise_never_fails_and_yields_canonical_codes(text: str) -> None:
    code = vouchers.normalise(text)
    assert code is None or (len(code) == 26 and vouchers.normalise(code) == code)


@given(st.text(alphabet=vouchers.ALPHABET, min_size=26, max_size=26))
def test_what_a_cashier_types_reads_back(code: str) -> None:
    typed = code.lower().replace("0", "o").replace("1", "l")
    assert vouchers.normalise(f" {typed[:13]}-{typed[13:]} ") == code
    assert vouchers.normalise(vouchers.qr_payload(code)) == code
