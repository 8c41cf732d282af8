"""Periods, steps, working days and business hours of the service-quality figures, worked out by
hand on the 2026 calendar of conf/service.yml (国庆节 1-7 October, make-up working Saturday
10 October) and the agents' hours (Monday-Friday 08:30-17:30, Saturday 09:00-12:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from store.config import load_settings
from store.quality import Grain, Period
from store.quality.periods import (
    business_minutes,
    hour_bucket,
    months_in,
    steps,
    working_days_elapsed,
)

TZ = ZoneInfo("Asia/Shanghai")
SETTINGS = load_settings()
CALENDAR = SETTINGS.calendar
HOURS = SETTINGS.service.agent_hours


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.mark.parametrize(
    ("text", "start", "end", "label", "grain"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 12, 1), "2026-11", Grain.MONTH),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "2026-12", Grain.MONTH),
        ("2026-q4", date(2026, 10, 1), date(2027, 1, 1), "2026-Q4", Grain.QUARTER),
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "2026", Grain.YEAR),
        ("2026-11-05", date(2026, 11, 5), date(2026, 11, 6), "2026-11-05..2026-11-05", Grain.DAY),
        (" 2026-11-01..2026-11-30 ", date(2026, 11, 1), date(2026, 12, 1),
         "2026-11-01..2026-11-30", Grain.DAY),
    ],
)  # fmt: skip
def test_parse(text: str, start: date, end: date, label: str, grain: Grain) -> None:
    assert Period.parse(text) == Period(start, end, label, grain)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26", "2026-11-30..2026-11-01", "x"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="bad period"):
        Period.parse(text)


def test_previous_and_year_before() -> None:
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026-Q1").previous().label == "2025-Q4"
    assert Period.parse("2026").previous().label == "2025"
    week = Period.parse("2026-11-09..2026-11-15")
    assert week.previous().label == "2026-11-02..2026-11-08"
    assert Period.parse("2026-11").year_before().label == "2025-11"
    assert Period.parse("2026-Q4").year_before().label == "2025-Q4"
    assert Period.parse("2028-02-29").year_before().label == "2027-02-28..2027-02-28"


def test_bounds_are_the_stations_midnights() -> None:
    start, end = Period.parse("2026-11").bounds()
    assert start == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert date(2026, 11, 30) in Period.parse("2026-11")
    assert date(2026, 12, 1) not in Period.parse("2026-11")


def test_steps() -> None:
    weeks = steps(Period.parse("2026-11"), Grain.WEEK)
    assert [(w.start.day, w.end.day) for w in weeks] == [
        (1, 2), (2, 9), (9, 16), (16, 23), (23, 30), (30, 1),
    ]  # fmt: skip
    assert len(steps(Period.parse("2026"), Grain.MONTH)) == 12
    assert [q.label for q in steps(Period.parse("2026"), Grain.QUARTER)] == [
        "2026-01-01", "2026-04-01", "2026-07-01", "2026-10-01",
    ]  # fmt: skip
    assert len(steps(Period.parse("2026-02"), Grain.DAY)) == 28
    assert months_in(Period.parse("2026-Q3")) == 3.0
    assert months_in(Period.parse("2026-11-01..2026-11-30")) == pytest.approx(30 / 30.4375)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2026-11-02 09:00", "2026-11-06 09:00", 4.0),  # Monday to Friday
        ("2026-11-06 18:00", "2026-11-09 06:00", 0.25 + 0.25),  # over a weekend
        ("2026-09-30 12:00", "2026-10-09 12:00", 0.5 + 1 + 0.5),  # 国庆节: 1-7 Oct off
        ("2026-10-09 12:00", "2026-10-12 12:00", 0.5 + 1 + 0.5),  # Sat 10 Oct is worked
        ("2026-11-02 09:00", "2026-11-02 09:00", 0.0),
        ("2026-11-03 09:00", "2026-11-02 09:00", 0.0),
    ],
)
def test_working_days_elapsed(start: str, end: str, days: float) -> None:
    elapsed = working_days_elapsed(local(start), local(end), CALENDAR, TZ)
    assert elapsed == pytest.approx(days)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        ("2026-11-03 10:00", "2026-11-03 10:07", 7),
        ("2026-11-03 07:00", "2026-11-03 09:00", 30),  # before opening
        ("2026-11-06 17:25", "2026-11-09 08:40", 5 + 180 + 10),  # Fri, Sat morning, Mon
        ("2026-11-08 10:00", "2026-11-08 16:00", 0),  # a Sunday
        ("2026-10-01 09:00", "2026-10-01 17:00", 0),  # 国庆节
        ("2026-10-10 12:00", "2026-10-10 13:00", 60),  # make-up Saturday: Monday's hours
    ],
)
def test_business_minutes(start: str, end: str, minutes: float) -> None:
    found = business_minutes(local(start), local(end), HOURS, CALENDAR, TZ)
    assert found == pytest.approx(minutes)


def test_hour_buckets() -> None:
    assert hour_bucket(21, 2) == ("20-22时", "20:00-22:00")
    assert hour_bucket(0, 1) == ("0时", "00:00")
    assert hour_bucket(23, 6) == ("18-24时", "18:00-24:00")
