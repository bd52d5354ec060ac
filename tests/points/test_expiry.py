"""The expiry sweep and its reminders: idempotent, notices once, the ledger still verifies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

import ledger
from cli.main import app
from core import clock
from core.ids import new_id
from notifications import outbox
from points.calendar import expiry_for
from points.service import expiry, views
from tests.points.factories import committed, make_award, make_redemption, make_reward

runner = CliRunner()

EARNED = datetime(2026, 3, 1, 4, tzinfo=UTC)
LAPSED = datetime(2028, 1, 1, 0, tzinfo=UTC)  # 08:00 on 1 January 2028 in Wujiang


async def test_default_policy_lapses_at_the_end_of_the_next_year() -> None:
    # Midnight starting 1 January 2028, Wujiang time, is 16:00 UTC on 31 December 2027.
    assert expiry_for(EARNED, "end-of-next-year") == datetime(2027, 12, 31, 16, tzinfo=UTC)


async def test_the_sweep_expires_once_and_notifies_once(session: AsyncSession) -> None:
    first, second = new_id(), new_id()
    with clock.frozen(EARNED):
        await make_award(session, first, points_=40)
        await make_award(session, first, behaviour="volunteer-service", points_=10)
        await make_award(session, second, points_=5)
        reward = await make_reward(session, points_cost=15)
        await make_redemption(session, first, reward)  # 15 of the first green lot are spent
    with clock.frozen(datetime(2027, 2, 1, tzinfo=UTC)):
        await make_award(session, second, points_=8)  # lapses a year later
    with clock.frozen(LAPSED):
        swept = await expiry.expire_points(session, limit=1)  # one wallet per batch
        rest = await expiry.expire_points(session)
        again = await expiry.expire_points(session)
        summary = await views.points_summary(session, resident_id=second)
        report = await ledger.verify(session)
    notices = await outbox.pending(session, topic=expiry.EXPIRED_TOPIC)

    assert (swept.residents + rest.residents, swept.points + rest.points) == (2, 25 + 10 + 5)
    assert (again.residents, again.points) == (0, 0)
    assert summary.available == 8
    assert report.ok, report.violations
    by_resident = {n.resident_id: n.payload for n in notices}
    assert by_resident[first]["points"] == 35
    assert by_resident[first]["by_category"] == {"green": 25, "volunteer": 10}
    assert by_resident[second]["by_category"] == {"green": 5}
    assert len(notices) == 2


async def test_reminders_once_per_resident_and_expiry_day(session: AsyncSession) -> None:
    resident, later = new_id(), new_id()
    with clock.frozen(EARNED):
        await make_award(session, resident, points_=4)
        await make_award(session, resident, behaviour="volunteer-service", points_=6)
    with clock.frozen(EARNED + timedelta(days=10)):
        # Lapsed already (not swept yet): nothing to remind of.
        await make_award(session, resident, points_=1, expires_at=EARNED + timedelta(days=20))
    with clock.frozen(datetime(2027, 2, 1, tzinfo=UTC)):
        await make_award(session, later, points_=9)  # lapses a year later: not yet reminded
    december = datetime(2027, 12, 5, tzinfo=UTC)
    with clock.frozen(december):
        run = await expiry.remind_expiring(session)
        again = await expiry.remind_expiring(session)
    with clock.frozen(december + timedelta(days=1)):
        batched = [await expiry.remind_expiring(session, limit=1) for _ in range(2)]
    reminders = await outbox.pending(session, topic=expiry.EXPIRING_TOPIC)

    assert (run.residents, run.reminders, run.points, run.next_after) == (1, 1, 10, None)
    assert (again.reminders, again.points) == (0, 0)
    assert [b.reminders for b in batched] == [0, 0]
    assert len(reminders) == 1
    assert reminders[0].resident_id == resident
    assert reminders[0].payload["points"] == 10
    assert reminders[0].payload["last_day"] == "2027-12-31"


async def test_reminder_batches_walk_every_wallet(session: AsyncSession) -> None:
    residents = [new_id() for _ in range(3)]
    with clock.frozen(EARNED):
        for resident in residents:
            await make_award(session, resident, points_=2)
    with clock.frozen(datetime(2027, 12, 10, tzinfo=UTC)):
        first = await expiry.remind_expiring(session, limit=2)
        second = await expiry.remind_expiring(session, limit=2, after=first.next_after)

    assert (first.reminders, first.next_after is not None) == (2, True)
    assert (second.reminders, second.next_after) == (1, None)
    assert len(await outbox.pending(session, topic=expiry.EXPIRING_TOPIC)) == 3


def test_cli_remind_then_expire_twice(migrated_database: str) -> None:
    residents = [new_id() for _ in range(3)]

    async def seed(session: AsyncSession) -> None:
        with clock.frozen(EARNED):
            for resident in residents:
                await make_award(session, resident, points_=4)

    committed(seed)
    with clock.frozen(datetime(2027, 12, 10, tzinfo=UTC)):
        reminded = runner.invoke(app, ["points", "remind", "--batch", "2"])
        reminded_again = runner.invoke(app, ["points", "remind"])
    with clock.frozen(LAPSED):
        first = runner.invoke(app, ["points", "expire", "--batch", "2"])
        second = runner.invoke(app, ["points", "expire"])
    verified = runner.invoke(app, ["ledger", "verify"])

    assert reminded.exit_code == 0, reminded.output
    assert "3 new reminders for 12 points" in reminded.output
    assert "0 new reminders" in reminded_again.output
    assert first.exit_code == 0, first.output
    assert "12 points lapsed in 3 wallets" in first.output
    assert "0 points lapsed in 0 wallets" in second.output
    assert verified.exit_code == 0, verified.output
