"""Bills: lookups, the explanation of 李秀英's high bill by hand, and every demo bill obeying
the tier rules."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.models import Account, Bill
from store.services import accounts, bills
from store.tariff import charge_for, late_fee, starts_tier_year


def _account(session: Session, number: str) -> Account:
    account = accounts.get_by_no(session, number)
    assert account is not None
    return account


def test_get_bill_and_recent(seeded: DemoSummary, session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        li = _account(session, "3301000002")
        latest = bills.get_bill(session, li.id, None)
        assert latest is not None
        assert latest.period == "2026-10"
        september = bills.get_bill(session, li.id, "2026-09")
        assert september is not None
        assert september.period == "2026-09"
        assert bills.get_bill(session, li.id, "2019-01") is None
        assert [b.period for b in bills.recent(session, li.id)] == ["2026-10", "2026-09", "2026-08"]
        assert len(bills.recent(session, li.id, n=12)) == 12


def test_high_bill_explained_by_hand(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    """Oct 2026: 2000 kWh used this year before it, 400 kWh in it (260 peak, 140 valley).
    Tier 1 ends at 2160: 160 x 0.538 = 86.08; 240 x 0.588 = 141.12;
    time of use 260 x 0.03 - 140 x 0.25 = 7.80 - 35.00 = -27.20; total 200.00, not yet due."""
    with unit_of_work(session_factory) as session:
        li = _account(session, "3301000002")
        bill = bills.get_bill(session, li.id, None)
        assert bill is not None
        x = bills.explain(settings, bill, li)
        assert (x.period, x.kwh, x.ytd_before, x.ytd_after) == ("2026-10", 400, 2000, 2400)
        assert x.this_reading - x.last_reading == 400
        assert x.multiplier == 1
        assert x.tier_limits == (2160, 4200)
        assert [(s.tier, s.kwh, s.price, s.amount) for s in x.slices] == [
            (1, 160, Decimal("0.538"), Decimal("86.08")),
            (2, 240, Decimal("0.588"), Decimal("141.12")),
            (3, 0, Decimal("0.838"), Decimal("0.00")),
        ]
        assert (x.peak_kwh, x.valley_kwh, x.tou_adjustment) == (260, 140, Decimal("-27.20"))
        assert (x.energy_amount, x.late_fee, x.adjustment) == (
            Decimal("200.00"),
            Decimal("0.00"),
            Decimal("0.00"),
        )
        assert x.total == Decimal("200.00")
        assert not x.paid
        assert li.balance == Decimal("-200.00")
        assert "crossed_tier2" in x.reasons
        assert "high_vs_average" in x.reasons
        assert "crossed_tier3" not in x.reasons
        assert "estimated_reading" not in x.reasons


def test_large_household_and_arrears(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(session_factory) as session:
        chen = _account(session, "3301000005")
        bill = bills.get_bill(session, chen.id, None)
        assert bill is not None
        assert bills.explain(settings, bill, chen).tier_limits == (3360, 5400)
        wang = _account(session, "3301000003")
        unpaid = [b for b in bills.recent(session, wang.id, n=12) if not b.paid]
        assert len(unpaid) == 3
        assert any(b.late_fee > 0 for b in unpaid)
        oldest = min(unpaid, key=lambda b: b.period)
        assert "late_fee" in bills.explain(settings, oldest, wang).reasons
        assert wang.balance == -sum((b.total for b in unpaid), Decimal(0))


def test_every_demo_bill_follows_the_tariff(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    tariffs = settings.tariffs
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(Bill, Account).join(Account).order_by(Bill.account_id, Bill.period)
        ).all()
        assert len(rows) == seeded.bills
        previous: Bill | None = None
        estimated = 0
        for bill, account in rows:
            assert bill.kwh == (bill.this_reading - bill.last_reading) * bill.multiplier
            assert bill.tier1_kwh + bill.tier2_kwh + bill.tier3_kwh == bill.kwh
            charge = charge_for(
                tariffs, category=account.category, kwh=bill.kwh, ytd_before=bill.ytd_kwh_before,
                household_size=account.household_size, peak_kwh=bill.peak_kwh,
                valley_kwh=bill.valley_kwh,
            )  # fmt: skip
            assert (charge.kwh_in(1), charge.kwh_in(2), charge.kwh_in(3)) == (
                bill.tier1_kwh,
                bill.tier2_kwh,
                bill.tier3_kwh,
            )
            assert charge.energy_amount == bill.energy_amount
            assert bill.total == bill.energy_amount + bill.late_fee + bill.adjustment
            if bill.paid and bill.paid_at is not None:
                settled = bill.paid_at.astimezone(settings.tz).date()
                amount = bill.energy_amount + bill.adjustment
                expected = late_fee(
                    tariffs, amount, due=bill.due_date, settled=settled, category=account.category
                )
                assert bill.late_fee == expected
            if previous is not None and previous.account_id == bill.account_id:
                assert bill.last_reading == previous.this_reading
                if starts_tier_year(tariffs, bill.period):
                    assert bill.ytd_kwh_before == 0
                else:
                    assert bill.ytd_kwh_before == previous.ytd_kwh_before + previous.kwh
            estimated += bill.estimated_reading
            previous = bill
        assert estimated > 0
