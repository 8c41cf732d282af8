"""Residential tiered pricing, time of use and late fees: pure functions, no I/O.

Tiers are on usage accumulated since the start of the tier year, so one period's kWh is split
at the annual limits using the year-to-date usage before it: a bill late in the year can be
priced higher than the same kWh in spring, which is the usual reason for a "too high" bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from store.config import Tariffs
from store.models.accounts import AccountCategory

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Round to the cent, half up (as on a printed bill)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TierSlice:
    tier: int
    kwh: int
    price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Charge:
    """The energy charge of one period."""

    slices: tuple[TierSlice, ...]
    tou_adjustment: Decimal
    energy_amount: Decimal

    def kwh_in(self, tier: int) -> int:
        return sum(s.kwh for s in self.slices if s.tier == tier)


def usage(last_reading: int, this_reading: int, multiplier: int = 1) -> int:
    """kWh of a period: (this reading - last reading) x multiplier (current-transformer ratio)."""
    if this_reading < last_reading or multiplier < 1:
        raise ValueError(f"bad readings {last_reading} → {this_reading} (x{multiplier})")
    return (this_reading - last_reading) * multiplier


def split_tiers(kwh: int, ytd_before: int, limits: tuple[int, int]) -> tuple[int, int, int]:
    """kWh of the period in tier 1, 2 and 3, given year-to-date usage before it."""
    if kwh < 0 or ytd_before < 0:
        raise ValueError("usage cannot be negative")
    end = ytd_before + kwh
    bounds = (0, limits[0], limits[1])
    tops = (limits[0], limits[1], None)
    parts = []
    for low, high in zip(bounds, tops, strict=True):
        start = max(ytd_before, low)
        stop = end if high is None else min(end, high)
        parts.append(max(0, stop - start))
    return parts[0], parts[1], parts[2]


def tou_adjustment(tariffs: Tariffs, peak_kwh: int | None, valley_kwh: int | None) -> Decimal:
    """Peak markup and valley discount, added to the tier price of each kWh."""
    peak = Decimal(peak_kwh or 0) * tariffs.peak_markup
    valley = Decimal(valley_kwh or 0) * tariffs.valley_markup
    return money(peak + valley)


def _charge(slices: tuple[TierSlice, ...], tou: Decimal) -> Charge:
    return Charge(slices, tou, money(sum((s.amount for s in slices), Decimal(0)) + tou))


def residential_charge(
    tariffs: Tariffs,
    *,
    kwh: int,
    ytd_before: int,
    household_size: int = 1,
    peak_kwh: int | None = None,
    valley_kwh: int | None = None,
) -> Charge:
    """Price a residential period: tier slices plus time-of-use adjustment."""
    split = split_tiers(kwh, ytd_before, tariffs.limits_for(household_size))
    slices = tuple(
        TierSlice(tier, part, price, money(Decimal(part) * price))
        for tier, (part, price) in enumerate(zip(split, tariffs.tier_prices, strict=True), 1)
    )
    return _charge(slices, tou_adjustment(tariffs, peak_kwh, valley_kwh))


def flat_charge(
    tariffs: Tariffs, *, kwh: int, peak_kwh: int | None = None, valley_kwh: int | None = None
) -> Charge:
    """Non-residential customers pay one price for all kWh (reported as a single tier-1 slice)."""
    price = tariffs.non_residential_price
    slices = (TierSlice(1, kwh, price, money(Decimal(kwh) * price)),)
    return _charge(slices, tou_adjustment(tariffs, peak_kwh, valley_kwh))


def charge_for(
    tariffs: Tariffs,
    *,
    category: str,
    kwh: int,
    ytd_before: int,
    household_size: int = 1,
    peak_kwh: int | None = None,
    valley_kwh: int | None = None,
) -> Charge:
    if category == AccountCategory.RESIDENTIAL:
        return residential_charge(
            tariffs,
            kwh=kwh,
            ytd_before=ytd_before,
            household_size=household_size,
            peak_kwh=peak_kwh,
            valley_kwh=valley_kwh,
        )
    return flat_charge(tariffs, kwh=kwh, peak_kwh=peak_kwh, valley_kwh=valley_kwh)


def late_fee(
    tariffs: Tariffs,
    amount: Decimal,
    *,
    due: date,
    settled: date,
    category: str = AccountCategory.RESIDENTIAL,
) -> Decimal:
    """Late-payment fee: a share of the unpaid amount for each day after the due date."""
    days = (settled - due).days
    if days <= 0 or amount <= 0:
        return Decimal("0.00")
    return money(amount * tariffs.late_fee_rate(category) * days)


def parse_period(period: str) -> tuple[int, int]:
    """'2026-10' → (2026, 10)."""
    try:
        year, month = (int(p) for p in period.split("-"))
    except ValueError as exc:
        raise ValueError(f"period must be YYYY-MM, got {period!r}") from exc
    if not 1 <= month <= 12 or len(period) != 7:
        raise ValueError(f"period must be YYYY-MM, got {period!r}")
    return year, month


def shift_period(period: str, months: int) -> str:
    year, month = parse_period(period)
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def starts_tier_year(tariffs: Tariffs, period: str) -> bool:
    """True when the tier year begins with this period (year-to-date usage resets to 0)."""
    return parse_period(period)[1] == tariffs.year_start_month


def due_date(tariffs: Tariffs, period: str) -> date:
    """A period's bill is due on the configured day of the following month."""
    year, month = parse_period(shift_period(period, 1))
    return date(year, month, tariffs.due_day)
