"""Tier split, pricing, time of use and late fees (pure: Tariffs built in code, no files)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from store.config import Tariffs
from store.tariff import (
    charge_for,
    due_date,
    flat_charge,
    late_fee,
    money,
    parse_period,
    residential_charge,
    shift_period,
    split_tiers,
    starts_tier_year,
    usage,
)

TARIFFS = Tariffs(
    tier1_limit=2160,
    tier2_limit=4200,
    tier1_price=Decimal("0.538"),
    tier2_markup=Decimal("0.05"),
    tier3_markup=Decimal("0.30"),
    large_household_min_size=5,
    large_household_extra_kwh_per_month=100,
    year_start_month=1,
    peak_start=time(8),
    peak_end=time(22),
    peak_markup=Decimal("0.03"),
    valley_markup=Decimal("-0.25"),
    non_residential_price=Decimal("0.6644"),
    late_fee_residential_per_day=Decimal("0.001"),
    late_fee_non_residential_per_day=Decimal("0.002"),
    due_day=25,
    average_months=6,
    high_factor=Decimal("1.3"),
    seasonal_peak_months=(1, 2, 7, 8, 12),
)


@pytest.mark.parametrize(
    ("kwh", "ytd_before", "expected"),
    [
        (200, 0, (200, 0, 0)),  # well inside tier 1
        (400, 2000, (160, 240, 0)),  # crosses 2160
        (300, 2160, (0, 300, 0)),  # starts exactly at the limit
        (3000, 2000, (160, 2040, 800)),  # crosses both limits in one period
        (100, 5000, (0, 0, 100)),  # all tier 3
        (0, 1234, (0, 0, 0)),
    ],
)
def test_split_tiers(kwh: int, ytd_before: int, expected: tuple[int, int, int]) -> None:
    assert split_tiers(kwh, ytd_before, (2160, 4200)) == expected
    assert sum(expected) == kwh


def test_large_households_get_100_kwh_a_month_more_on_each_limit() -> None:
    assert TARIFFS.limits_for(4) == (2160, 4200)
    assert TARIFFS.limits_for(5) == (3360, 5400)
    charge = residential_charge(TARIFFS, kwh=400, ytd_before=2000, household_size=6)
    assert charge.kwh_in(1) == 400


def test_tier_prices_are_tier1_plus_markups() -> None:
    assert TARIFFS.tier_prices == (Decimal("0.538"), Decimal("0.588"), Decimal("0.838"))


def test_residential_charge_by_hand() -> None:
    """160 x 0.538 + 240 x 0.588 = 86.08 + 141.12; peak 260 x 0.03 - valley 140 x 0.25 = -27.20."""
    charge = residential_charge(
        TARIFFS, kwh=400, ytd_before=2000, household_size=3, peak_kwh=260, valley_kwh=140
    )
    amounts = [(s.tier, s.kwh, s.price, s.amount) for s in charge.slices]
    assert amounts == [
        (1, 160, Decimal("0.538"), Decimal("86.08")),
        (2, 240, Decimal("0.588"), Decimal("141.12")),
        (3, 0, Decimal("0.838"), Decimal("0.00")),
    ]
    assert charge.tou_adjustment == Decimal("-27.20")
    assert charge.energy_amount == Decimal("200.00")


def test_no_time_of_use_means_no_adjustment() -> None:
    charge = residential_charge(TARIFFS, kwh=100, ytd_before=0)
    assert charge.tou_adjustment == Decimal("0.00")
    assert charge.energy_amount == Decimal("53.80")


def test_non_residential_pays_one_price() -> None:
    charge = flat_charge(TARIFFS, kwh=1000)
    assert [(s.tier, s.kwh) for s in charge.slices] == [(1, 1000)]
    assert charge.energy_amount == Decimal("664.40")
    same = charge_for(TARIFFS, category="non_residential", kwh=1000, ytd_before=9999)
    assert same == charge


def test_rounding_is_half_up_to_the_cent() -> None:
    assert money(Decimal("0.125")) == Decimal("0.13")
    assert residential_charge(TARIFFS, kwh=1, ytd_before=0).energy_amount == Decimal("0.54")


def test_late_fee_is_per_day_after_the_due_date() -> None:
    due = date(2026, 10, 25)
    assert late_fee(TARIFFS, Decimal("100.00"), due=due, settled=due) == Decimal("0.00")
    assert late_fee(TARIFFS, Decimal("100.00"), due=due, settled=date(2026, 11, 4)) == Decimal(
        "1.00"
    )
    business = late_fee(
        TARIFFS, Decimal("100.00"), due=due, settled=date(2026, 10, 30), category="x"
    )
    assert business == Decimal("1.00")


def test_usage_is_reading_difference_times_multiplier() -> None:
    assert usage(1200, 1450) == 250
    assert usage(100, 130, 5) == 150
    with pytest.raises(ValueError, match="bad readings"):
        usage(200, 100)


def test_periods() -> None:
    assert parse_period("2026-10") == (2026, 10)
    assert shift_period("2026-01", -1) == "2025-12"
    assert shift_period("2026-11", 2) == "2027-01"
    assert starts_tier_year(TARIFFS, "2026-01")
    assert not starts_tier_year(TARIFFS, "2026-02")
    assert due_date(TARIFFS, "2026-12") == date(2027, 1, 25)
    for bad in ("2026-13", "26-10", "2026/10", "oct"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_period(bad)
