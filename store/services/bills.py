"""Bills and why they are what they are.

`explain` re-derives each tier slice from the stored split and the configured prices and names
the usual reasons for a high bill (crossing into tier 2/3, an estimated reading settled, the
season, use well above the recent average), as codes the assistant turns into sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.models import Account, AccountCategory, Bill
from store.tariff import TierSlice, money, parse_period, tou_adjustment


def get_bill(session: Session, account_id: int, period: str | None = None) -> Bill | None:
    """The account's bill for 'YYYY-MM', or its latest bill when `period` is None."""
    stmt = select(Bill).where(Bill.account_id == account_id)
    if period is not None:
        return session.scalars(stmt.where(Bill.period == period)).one_or_none()
    return session.scalars(stmt.order_by(Bill.period.desc()).limit(1)).first()


def recent(session: Session, account_id: int, n: int = 3) -> list[Bill]:
    """The latest `n` bills, newest first."""
    stmt = (
        select(Bill)
        .where(Bill.account_id == account_id)
        .order_by(Bill.period.desc())
        .limit(max(n, 0))
    )
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class BillExplanation:
    period: str
    last_reading: int
    this_reading: int
    multiplier: int
    kwh: int
    ytd_before: int
    ytd_after: int
    tier_limits: tuple[int, int]
    """This household's annual limits (large households get more)."""
    slices: tuple[TierSlice, ...]
    peak_kwh: int | None
    valley_kwh: int | None
    tou_adjustment: Decimal
    energy_amount: Decimal
    late_fee: Decimal
    adjustment: Decimal
    total: Decimal
    paid: bool
    paid_at: datetime | None
    due_date: date
    estimated_reading: bool
    average_kwh: Decimal | None
    """Mean kWh of the preceding bills (up to the configured number of months)."""
    reasons: tuple[str, ...]


def _slices(settings: Settings, bill: Bill, account: Account) -> tuple[TierSlice, ...]:
    tariffs = settings.tariffs
    if account.category != AccountCategory.RESIDENTIAL:
        price = tariffs.non_residential_price
        return (TierSlice(1, bill.kwh, price, money(Decimal(bill.kwh) * price)),)
    parts = (bill.tier1_kwh, bill.tier2_kwh, bill.tier3_kwh)
    return tuple(
        TierSlice(tier, kwh, price, money(Decimal(kwh) * price))
        for tier, (kwh, price) in enumerate(zip(parts, tariffs.tier_prices, strict=True), 1)
    )


def _reasons(
    settings: Settings, bill: Bill, earlier: list[Bill], average: Decimal | None
) -> tuple[str, ...]:
    tariffs = settings.tariffs
    reasons = []
    if bill.tier2_kwh > 0:
        reasons.append("crossed_tier2")
    if bill.tier3_kwh > 0:
        reasons.append("crossed_tier3")
    previous = earlier[-1] if earlier else None
    if bill.estimated_reading or (previous is not None and previous.estimated_reading):
        reasons.append("estimated_reading")
    high = average is not None and Decimal(bill.kwh) > average * tariffs.high_factor
    above_average = average is not None and Decimal(bill.kwh) > average
    if parse_period(bill.period)[1] in tariffs.seasonal_peak_months and above_average:
        reasons.append("seasonal_peak")
    if high:
        reasons.append("high_vs_average")
    if bill.late_fee > 0:
        reasons.append("late_fee")
    return tuple(reasons)


def explain(settings: Settings, bill: Bill, account: Account) -> BillExplanation:
    """Break a bill down into tier slices, time-of-use adjustment and fees, with reasons."""
    tariffs = settings.tariffs
    earlier = [b for b in account.bills if b.period < bill.period][-tariffs.average_months :]
    average = None
    if earlier:
        average = Decimal(sum(b.kwh for b in earlier)) / len(earlier)
    residential = account.category == AccountCategory.RESIDENTIAL
    return BillExplanation(
        period=bill.period,
        last_reading=bill.last_reading,
        this_reading=bill.this_reading,
        multiplier=bill.multiplier,
        kwh=bill.kwh,
        ytd_before=bill.ytd_kwh_before,
        ytd_after=bill.ytd_kwh_before + bill.kwh,
        tier_limits=tariffs.limits_for(account.household_size if residential else 1),
        slices=_slices(settings, bill, account),
        peak_kwh=bill.peak_kwh,
        valley_kwh=bill.valley_kwh,
        tou_adjustment=tou_adjustment(tariffs, bill.peak_kwh, bill.valley_kwh),
        energy_amount=bill.energy_amount,
        late_fee=bill.late_fee,
        adjustment=bill.adjustment,
        total=bill.total,
        paid=bill.paid,
        paid_at=bill.paid_at,
        due_date=bill.due_date,
        estimated_reading=bill.estimated_reading,
        average_kwh=money(average) if average is not None else None,
        reasons=_reasons(settings, bill, earlier, average),
    )
