"""What the generated history shows, placed relative to "now" so it looks alive on any date.

Thirteen whole months before the current one (so last month can be compared with the same
month a year earlier) and the current month up to now, with four things a manager should find:

- a slow crew: 西片抢修组 arrives later than its commitment, the others well within theirs;
- an application stage that often overruns: metering installation (装表接电) of new
  connections takes longer than its limit about half of the time;
- a summer storm: three days in the latest July before now bring a flood of faults, fault
  outages with many merged reports, late arrivals and complaints;
- a satisfaction dip and its recovery: two months with one agent away (long queues, lower
  ratings), the month after recovering, then better than before.

How much of everything is the `Scale`: the demo township's volumes, or a county's for the
benchmark (`python -m store history --scale county`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

SLOW_CREW: Final = "西片抢修组"
OVERRUN: Final = ("new_connection", "metering_install")
"""(application type, stage) that often overruns its limit."""
STORM_MONTH_DAYS: Final = (7, (14, 15, 16))
"""The storm's month and days."""
AWAY_AGENT: Final = "agent2"
"""The agent away during the satisfaction dip."""
HISTORY_MONTHS: Final = 13
"""Whole months before the current one."""
FINISHED_BEFORE: Final = timedelta(hours=2)
"""Everything in the history is finished this long before now (the live demo is the rest)."""


@dataclass(frozen=True)
class Scale:
    """Volumes relative to the demo township (1.0: about 1,300 tickets, 7,500 conversations)."""

    name: str
    tickets: float
    conversations: float
    extra_turns: float
    """Mean number of further questions a conversation asks (a county's are longer)."""
    accounts: int
    """Accounts the data set needs: generated (without bills) when the database has fewer."""
    agents: int
    """Agents besides the demo's (agent1, agent2, supervisor)."""

    @property
    def chat_share(self) -> float:
        """The part of tickets and applications made in a chat: all the usual ones in the
        township; in a county most come by phone and at the counter."""
        return min(1.0, self.conversations / self.tickets)


TOWNSHIP: Final = Scale("township", 1.0, 1.0, 0.0, 0, 0)
COUNTY: Final = Scale("county", 125.0, 14.0, 7.0, 54_000, 24)


def county_part(fraction: float) -> Scale:
    """A fraction of the county (tests use a small one)."""
    if not 0 < fraction <= 1:
        raise ValueError(
            f"the scale must be county, township or a fraction in (0, 1], got {fraction}"
        )
    return Scale(
        f"county×{fraction:g}",
        COUNTY.tickets * fraction,
        COUNTY.conversations * fraction,
        COUNTY.extra_turns,
        int(COUNTY.accounts * fraction),
        max(1, round(COUNTY.agents * fraction)),
    )


def parse_scale(text: str) -> Scale:
    """`township`, `county` or a fraction of the county such as `0.01`."""
    presets = {TOWNSHIP.name: TOWNSHIP, COUNTY.name: COUNTY}
    if text in presets:
        return presets[text]
    try:
        return county_part(float(text))
    except ValueError as exc:
        raise ValueError(f"--scale: {exc}") from None


def _month(year: int, month: int, shift: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + shift
    return index // 12, index % 12 + 1


@dataclass(frozen=True)
class Patterns:
    now: datetime
    tz: ZoneInfo
    start: date
    """The first local day of the history."""
    end: datetime
    """Nothing of the history happens after this."""
    storm: tuple[date, ...]
    dip: tuple[tuple[int, int], ...]
    """(year, month) of the satisfaction dip."""
    recovery: tuple[int, int]

    def months_from_now(self, day: date) -> int:
        """0 for the current month, -1 for the previous one, ..."""
        local = self.now.astimezone(self.tz)
        return (day.year - local.year) * 12 + day.month - local.month

    def in_dip(self, day: date) -> bool:
        return (day.year, day.month) in self.dip

    def in_recovery(self, day: date) -> bool:
        return (day.year, day.month) == self.recovery

    def storm_day(self, day: date) -> bool:
        return day in self.storm

    def after_storm(self, day: date, days: int = 7) -> bool:
        """Within `days` after the storm (complaints about it, callbacks)."""
        last = self.storm[-1]
        return last < day <= last + timedelta(days=days)


def _storm(now_local: datetime) -> tuple[date, ...]:
    """The storm's days in the latest July they lie wholly before now (three days' margin)."""
    month, days = STORM_MONTH_DAYS
    year = now_local.year
    while date(year, month, days[-1]) + timedelta(days=3) > now_local.date():
        year -= 1
    return tuple(date(year, month, d) for d in days)


def _dip(year: int, month: int) -> tuple[tuple[int, int], ...]:
    """Two months well before now, never the storm's month."""
    storm_month = STORM_MONTH_DAYS[0]
    for first in (-8, -5, -10):
        months = (_month(year, month, first), _month(year, month, first + 1))
        if all(m != storm_month for _, m in months):
            return months
    raise AssertionError("unreachable: three candidate pairs cannot all hold July")


def patterns_for(now: datetime, tz: ZoneInfo) -> Patterns:
    local = now.astimezone(tz)
    first_year, first_month = _month(local.year, local.month, -HISTORY_MONTHS)
    dip = _dip(local.year, local.month)
    return Patterns(
        now=now,
        tz=tz,
        start=date(first_year, first_month, 1),
        end=now - FINISHED_BEFORE,
        storm=_storm(local),
        dip=dip,
        recovery=_month(*dip[-1], 1),
    )
