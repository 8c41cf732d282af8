"""Time arithmetic of the figures: local days and hours, elapsed working days, business hours of
the human service, and the steps of a series. Pure functions; instants are aware.

- Working days (applications): the fraction of each local day between two instants that falls
  on a working day of the station's calendar (weekends and public holidays skipped, make-up
  working days counted), so Monday 10:00 to Tuesday 16:00 is 1.25 working days.
- Business hours (agents' first response and resolution): the minutes inside conf/service.yml
  `agent_hours`, no minutes on public holidays; a make-up working day (调休上班) has Monday's
  hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from store.config import OpeningHours, WorkCalendar
from store.quality.types import Grain, Period, month_start

DAY_SECONDS = 86400.0


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def local_hour(at: datetime, tz: ZoneInfo) -> int:
    return at.astimezone(tz).hour


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz)


def _overlap_seconds(a: datetime, b: datetime, lo: datetime, hi: datetime) -> float:
    return max(0.0, (min(b, hi) - max(a, lo)).total_seconds())


def working_days_elapsed(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> float:
    """Working days between two instants, counting the part of each working day they cover."""
    if end <= start:
        return 0.0
    first, last = local_day(start, tz), local_day(end, tz)
    total = 0.0
    day = first
    while day <= last:
        if calendar.is_working_day(day):
            lo = _midnight(day, tz)
            hi = _midnight(day + timedelta(days=1), tz)
            total += _overlap_seconds(start, end, lo, hi) / (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


def _windows(
    day: date, hours: Sequence[OpeningHours], calendar: WorkCalendar
) -> list[OpeningHours]:
    if day in calendar.holidays:
        return []
    weekday = 0 if day in calendar.workdays else day.weekday()
    return [h for h in hours if weekday in h.weekdays]


def business_minutes(
    start: datetime,
    end: datetime,
    hours: Sequence[OpeningHours],
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> float:
    """Minutes between two instants that fall inside the agents' hours."""
    if end <= start:
        return 0.0
    total = 0.0
    day = local_day(start, tz)
    while day <= local_day(end, tz):
        for window in _windows(day, hours, calendar):
            lo = datetime.combine(day, window.opens, tz)
            hi = datetime.combine(day, window.closes, tz)
            total += _overlap_seconds(start, end, lo, hi)
        day += timedelta(days=1)
    return total / 60.0


def hour_bucket(hour: int, size: int) -> tuple[str, str]:
    """The labels of the bucket of hours holding `hour`: ("20-22时", "20:00-22:00")."""
    first = hour - hour % size
    last = first + size
    if size == 1:
        return f"{first}时", f"{first:02d}:00"
    return f"{first}-{last}时", f"{first:02d}:00-{last:02d}:00"


def _step_start(day: date, grain: Grain) -> date:
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    if grain is Grain.MONTH:
        return day.replace(day=1)
    if grain is Grain.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _next_start(start: date, grain: Grain) -> date:
    if grain is Grain.DAY:
        return start + timedelta(days=1)
    if grain is Grain.WEEK:
        return start + timedelta(days=7)
    months = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}[grain]
    return month_start(start.year, start.month + months)


def steps(period: Period, grain: Grain) -> list[Period]:
    """`period` cut into calendar days, weeks (Monday first), months, quarters or years; the
    first and last steps are clipped to the period. Each step is labelled by its first day."""
    result: list[Period] = []
    start = period.start
    while start < period.end:
        end = min(_next_start(_step_start(start, grain), grain), period.end)
        result.append(Period(start, end, start.isoformat(), grain))
        start = end
    return result


def months_in(period: Period) -> float:
    """The period's length in months (a calendar month is 1; other spans by 365.25/12 days)."""
    if period.grain is Grain.MONTH:
        return 1.0
    if period.grain is Grain.QUARTER:
        return 3.0
    if period.grain is Grain.YEAR:
        return 12.0
    return (period.end - period.start).days / (365.25 / 12)
