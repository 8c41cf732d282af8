"""Tariffs (conf/tariffs.yml): tier limits and prices, time of use, late fees, bill analysis."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal

from store.configuration.yamlfile import ConfigError, Node
from store.models.accounts import AccountCategory


@dataclass(frozen=True)
class Tariffs:
    tier1_limit: int
    """Annual kWh at which tier 2 starts (before any large-household extra)."""
    tier2_limit: int
    tier1_price: Decimal
    tier2_markup: Decimal
    tier3_markup: Decimal
    large_household_min_size: int
    large_household_extra_kwh_per_month: int
    year_start_month: int
    peak_start: time
    peak_end: time
    peak_markup: Decimal
    valley_markup: Decimal
    non_residential_price: Decimal
    late_fee_residential_per_day: Decimal
    late_fee_non_residential_per_day: Decimal
    due_day: int
    average_months: int
    high_factor: Decimal
    seasonal_peak_months: tuple[int, ...]

    @property
    def tier_prices(self) -> tuple[Decimal, Decimal, Decimal]:
        p1 = self.tier1_price
        return p1, p1 + self.tier2_markup, p1 + self.tier3_markup

    def limits_for(self, household_size: int) -> tuple[int, int]:
        """Annual tier limits of a household: large households get extra kWh on each."""
        extra = 0
        if household_size >= self.large_household_min_size:
            extra = 12 * self.large_household_extra_kwh_per_month
        return self.tier1_limit + extra, self.tier2_limit + extra

    def late_fee_rate(self, category: str) -> Decimal:
        if category == AccountCategory.RESIDENTIAL:
            return self.late_fee_residential_per_day
        return self.late_fee_non_residential_per_day


def _month(node: Node) -> int:
    value = node.as_int()
    if value > 12:
        node.fail("a month 1-12")
    return value


def load_tariffs(root: Node) -> Tariffs:
    residential = root["residential"]
    limits = residential["tier_limits_kwh"].as_list()
    markups = residential["tier_markups"].as_list()
    if len(limits) != 2 or len(markups) != 2:
        raise ConfigError(
            f"{root.path}: residential: tier_limits_kwh and tier_markups need 2 values"
        )
    tier1, tier2 = limits[0].as_int(), limits[1].as_int()
    if tier2 <= tier1:
        limits[1].fail(f"a limit above tier 1 ({tier1})")
    large = residential["large_household"]
    tou = root["time_of_use"]
    due_day = root["billing"]["due_day"]
    if due_day.as_int() > 28:
        due_day.fail("a day 1-28 (every month has it)")
    analysis = root["bill_analysis"]
    return Tariffs(
        tier1_limit=tier1,
        tier2_limit=tier2,
        tier1_price=residential["tier1_price"].as_decimal(),
        tier2_markup=markups[0].as_decimal(),
        tier3_markup=markups[1].as_decimal(),
        large_household_min_size=large["min_size"].as_int(),
        large_household_extra_kwh_per_month=large["extra_kwh_per_month"].as_int(minimum=0),
        year_start_month=_month(residential["year_start_month"]),
        peak_start=tou["peak"]["start"].as_time(),
        peak_end=tou["peak"]["end"].as_time(),
        peak_markup=tou["peak"]["markup"].as_decimal(),
        valley_markup=tou["valley"]["markup"].as_decimal(),
        non_residential_price=root["non_residential"]["price"].as_decimal(),
        late_fee_residential_per_day=root["late_fee"]["residential_per_day"].as_decimal(),
        late_fee_non_residential_per_day=root["late_fee"]["non_residential_per_day"].as_decimal(),
        due_day=due_day.as_int(),
        average_months=analysis["average_months"].as_int(),
        high_factor=analysis["high_factor"].as_decimal(),
        seasonal_peak_months=tuple(_month(m) for m in analysis["seasonal_peak_months"].as_list()),
    )
