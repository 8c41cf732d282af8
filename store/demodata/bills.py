"""Twelve months of bills per account, priced with store.tariff so every bill obeys the tier
rules: year-to-date usage resets at the start of the tier year and each period's kWh is split
at the (household-adjusted) annual limits. Some readings are estimated and settled the next
month; some bills are paid late or not at all."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from store.config import Settings
from store.models import Account, Bill
from store.tariff import (
    charge_for,
    due_date,
    late_fee,
    parse_period,
    shift_period,
    starts_tier_year,
)

#: Relative monthly load: air conditioning in summer, heating in winter.
SEASON = {1: 1.35, 2: 1.25, 3: 1.0, 4: 0.85, 5: 0.8, 6: 1.0, 7: 1.45, 8: 1.5, 9: 1.1, 10: 0.9}
SEASON |= {11: 0.95, 12: 1.25}
ADJUSTMENTS = (Decimal("-5.00"), Decimal("-12.40"), Decimal("3.20"), Decimal("-8.60"))


@dataclass(frozen=True)
class BillPlan:
    """How one account's bill history should look."""

    base_kwh: int
    multiplier: int = 1
    peak_share: float | None = None
    """Share of kWh in peak hours for time-of-use accounts; None: not on time of use."""
    unpaid_latest: int = 0
    """How many of the latest bills are unpaid."""
    late_payer: float = 0.1
    estimated: tuple[str, ...] = ()
    adjustments: bool = True
    fixed_kwh: Mapping[str, int] = field(default_factory=dict)
    fixed_peak: Mapping[str, int] = field(default_factory=dict)


def last_periods(today: date, n: int) -> list[str]:
    """The `n` complete months before `today`'s month, oldest first."""
    current = f"{today.year:04d}-{today.month:02d}"
    return [shift_period(current, -k) for k in range(n, 0, -1)]


def _paid_at(rng: random.Random, day: date, settings: Settings) -> datetime:
    moment = time(rng.randint(8, 20), rng.choice((0, 15, 30, 45)))
    return datetime.combine(day, moment, tzinfo=settings.tz)


def _usage(rng: random.Random, plan: BillPlan, period: str) -> int:
    if period in plan.fixed_kwh:
        return plan.fixed_kwh[period]
    month = parse_period(period)[1]
    return max(plan.multiplier, round(plan.base_kwh * SEASON[month] * rng.uniform(0.85, 1.15)))


def make_bills(
    rng: random.Random,
    settings: Settings,
    account: Account,
    plan: BillPlan,
    periods: list[str],
    today: date,
) -> list[Bill]:
    """Bills for `periods` (consecutive, oldest first), consistent with the tariff rules."""
    tariffs = settings.tariffs
    first = periods[0]
    start = first
    while not starts_tier_year(tariffs, start):
        start = shift_period(start, -1)
    true_reading = rng.randint(800, 30000)
    billed_reading = true_reading
    ytd = 0
    bills = []
    period = start
    while period <= periods[-1]:
        units = max(1, round(_usage(rng, plan, period) / plan.multiplier))
        true_reading += units
        if starts_tier_year(tariffs, period):
            ytd = 0
        if period < first:
            ytd += units * plan.multiplier
            billed_reading = true_reading
            period = shift_period(period, 1)
            continue
        last = billed_reading
        estimated = period in plan.estimated
        billed_reading = last + round(units * 0.6) if estimated else true_reading
        kwh = (billed_reading - last) * plan.multiplier
        bills.append(_bill(rng, settings, account, plan, period, last, billed_reading, kwh, ytd))
        bills[-1].estimated_reading = estimated
        ytd += kwh
        period = shift_period(period, 1)
    _settle(rng, settings, account, plan, bills, today)
    return bills


def _bill(
    rng: random.Random,
    settings: Settings,
    account: Account,
    plan: BillPlan,
    period: str,
    last: int,
    this: int,
    kwh: int,
    ytd_before: int,
) -> Bill:
    peak = valley = None
    if plan.peak_share is not None:
        peak = plan.fixed_peak.get(period, round(kwh * plan.peak_share))
        valley = kwh - peak
    charge = charge_for(
        settings.tariffs,
        category=account.category,
        kwh=kwh,
        ytd_before=ytd_before,
        household_size=account.household_size,
        peak_kwh=peak,
        valley_kwh=valley,
    )
    adjustment = Decimal("0.00")
    if plan.adjustments and rng.random() < 0.02:
        adjustment = rng.choice(ADJUSTMENTS)
    return Bill(
        period=period,
        last_reading=last,
        this_reading=this,
        multiplier=plan.multiplier,
        kwh=kwh,
        ytd_kwh_before=ytd_before,
        tier1_kwh=charge.kwh_in(1),
        tier2_kwh=charge.kwh_in(2),
        tier3_kwh=charge.kwh_in(3),
        peak_kwh=peak,
        valley_kwh=valley,
        energy_amount=charge.energy_amount,
        late_fee=Decimal("0.00"),
        adjustment=adjustment,
        total=charge.energy_amount + adjustment,
        estimated_reading=False,
        paid=False,
        paid_at=None,
        due_date=due_date(settings.tariffs, period),
    )


def _settle(
    rng: random.Random,
    settings: Settings,
    account: Account,
    plan: BillPlan,
    bills: list[Bill],
    today: date,
) -> None:
    """Mark bills paid (prepaid: at issue; others: on time or late) and add late fees."""
    for index, bill in enumerate(bills):
        issued = bill.due_date.replace(day=1)
        unpaid = index >= len(bills) - plan.unpaid_latest and not account.prepaid
        if unpaid:
            settled = today
        elif account.prepaid:
            settled = issued
        elif rng.random() < plan.late_payer:
            settled = bill.due_date + timedelta(days=rng.randint(1, 20))
        else:
            settled = issued + timedelta(days=rng.randint(0, (bill.due_date - issued).days))
        settled = min(settled, today)
        amount = bill.energy_amount + bill.adjustment
        bill.late_fee = late_fee(
            settings.tariffs, amount, due=bill.due_date, settled=settled, category=account.category
        )
        bill.total = amount + bill.late_fee
        if not unpaid:
            bill.paid = True
            bill.paid_at = _paid_at(rng, settled, settings)
