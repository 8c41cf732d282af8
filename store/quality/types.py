"""The value types of the service-quality computation (issue 18).

One computation serves the dashboard, the exports and the reports; these frozen dataclasses are
what it hands them. Periods are local dates of the station (conf/commitments.yml `timezone`,
Asia/Shanghai); `Period.bounds()` turns them into aware instants for the queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

from store.config import default_conf_dir
from store.configuration.yamlfile import read_yaml


@cache
def station_tz() -> ZoneInfo:
    """The station's clock: conf/commitments.yml `timezone` (read once, on first use)."""
    root = read_yaml(default_conf_dir() / "commitments.yml")
    return ZoneInfo(root["timezone"].as_str())


class Grain(StrEnum):
    """How long one step of a period or of a series is."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})$")


def month_start(year: int, month: int) -> date:
    """The first day of a month, `month` may run past 12 or below 1."""
    year += (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


def _shift_year(day: date, years: int) -> date:
    """The same calendar day `years` earlier or later (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Period:
    """A span of local days: [start, end) with a label people read."""

    start: date
    end: date
    label: str
    grain: Grain

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """The calendar month, labelled "2026-11"."""
        start = month_start(year, month)
        return cls(start, month_start(year, month + 1), f"{start:%Y-%m}", Grain.MONTH)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        """The calendar quarter, labelled "2026-Q4"."""
        start = date(year, 3 * quarter - 2, 1)
        return cls(start, month_start(year, 3 * quarter + 1), f"{year}-Q{quarter}", Grain.QUARTER)

    @classmethod
    def year(cls, year: int) -> Period:
        """The calendar year, labelled "2026"."""
        return cls(date(year, 1, 1), date(year + 1, 1, 1), str(year), Grain.YEAR)

    @classmethod
    def days(cls, first: date, last: date) -> Period:
        """Any range of days, both inclusive, labelled "2026-11-01..2026-11-30"."""
        if last < first:
            raise ValueError(f"period ends ({last}) before it starts ({first})")
        return cls(first, last + timedelta(days=1), f"{first}..{last}", Grain.DAY)

    @classmethod
    def parse(cls, text: str) -> Period:
        """Read "2026-11", "2026-Q4", "2026", "2026-11-05" or "2026-11-01..2026-11-30"."""
        text = text.strip()
        try:
            if m := _MONTH.match(text):
                if not 1 <= int(m[2]) <= 12:
                    raise ValueError(f"month {m[2]} is not 1..12")
                return cls.month(int(m[1]), int(m[2]))
            if m := _QUARTER.match(text):
                return cls.quarter(int(m[1]), int(m[2]))
            if m := _YEAR.match(text):
                return cls.year(int(m[1]))
            if m := _RANGE.match(text):
                return cls.days(date.fromisoformat(m[1]), date.fromisoformat(m[2]))
            if m := _DAY.match(text):
                day = date.fromisoformat(m[1])
                return cls.days(day, day)
        except ValueError as exc:
            raise ValueError(f"bad period {text!r}: {exc}") from None
        raise ValueError(
            f"bad period {text!r}: write a month (2026-11), a quarter (2026-Q4), a year (2026),"
            " a day (2026-11-05) or a range (2026-11-01..2026-11-30)"
        )

    def previous(self) -> Period:
        """The period just before: the previous month/quarter/year, or a range as long."""
        if self.grain is Grain.MONTH:
            return Period.month(self.start.year, self.start.month - 1)
        if self.grain is Grain.QUARTER:
            q = (self.start.month - 1) // 3 + 1
            return Period.quarter(self.start.year - (q == 1), 4 if q == 1 else q - 1)
        if self.grain is Grain.YEAR:
            return Period.year(self.start.year - 1)
        length = self.end - self.start
        return Period.days(self.start - length, self.start - timedelta(days=1))

    def year_before(self) -> Period:
        """The same period one year earlier."""
        if self.grain is Grain.MONTH:
            return Period.month(self.start.year - 1, self.start.month)
        if self.grain is Grain.QUARTER:
            return Period.quarter(self.start.year - 1, (self.start.month - 1) // 3 + 1)
        if self.grain is Grain.YEAR:
            return Period.year(self.start.year - 1)
        last = self.end - timedelta(days=1)
        return Period.days(_shift_year(self.start, -1), _shift_year(last, -1))

    def bounds(self) -> tuple[datetime, datetime]:
        """Start and end as aware UTC instants (local midnights of the station)."""
        return to_utc(self.start), to_utc(self.end)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


def to_utc(day: date, tz: ZoneInfo | None = None) -> datetime:
    """The station's local midnight starting `day`, as an aware UTC instant."""
    return datetime.combine(day, time(), tz or station_tz()).astimezone(UTC)


@dataclass(frozen=True)
class Filters:
    """What the dashboard narrows the figures to; None means all. A team (`team_id`, teams
    table) narrows like a crew filter over the crews it oversees and an agent filter over the
    people in it, together, and keeps the complaints and applications its people handled
    (store/quality/names.py `crew_ids`, `agent_ids`, `handler_ids`)."""

    area: str | None = None
    crew_id: int | None = None
    agent: str | None = None
    channel: str | None = None
    team_id: int | None = None


class Better(StrEnum):
    """Which way a figure improves."""

    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class Figure:
    """One measured figure of a period against its target."""

    key: str
    section: str
    value: float | None
    unit: str
    target: float | None
    better: Better
    numerator: int | None = None
    denominator: int | None = None

    @property
    def meets(self) -> bool | None:
        """Whether the value reaches the target; None when either is missing."""
        if self.value is None or self.target is None:
            return None
        if self.better is Better.HIGHER:
            return self.value >= self.target
        return self.value <= self.target


@dataclass(frozen=True)
class BreakdownRow:
    """One slice of a breakdown (a crew, a stage, an hour...). For a rate, numerator and
    denominator are the rate's; for a mean or a percentile, the items that missed and the
    items measured."""

    label: str
    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    label_en: str = ""
    """The slice's name in English (the bottleneck sentences); `label` is Chinese."""


@dataclass(frozen=True)
class Breakdown:
    """A figure split along one dimension."""

    key: str
    dimension: str
    rows: tuple[BreakdownRow, ...]


@dataclass(frozen=True)
class Snapshot:
    """Every figure and breakdown of one period under one set of filters."""

    period: Period
    filters: Filters
    figures: tuple[Figure, ...]
    breakdowns: tuple[Breakdown, ...]

    def figure(self, key: str) -> Figure:
        """The figure with this key; KeyError if the snapshot has none."""
        for fig in self.figures:
            if fig.key == key:
                return fig
        raise KeyError(key)


@dataclass(frozen=True)
class Bottleneck:
    """Where the misses of a missed figure concentrate, said in plain words."""

    key: str
    dimension: str
    label: str
    misses: int
    share: float
    sentence_zh: str
    sentence_en: str


@dataclass(frozen=True)
class DrillRow:
    """One item behind a figure, for the drill-down table."""

    kind: str
    ref: str
    at: datetime
    value: float | None
    meets: bool | None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scorecard:
    """A staff member's or crew's figures beside the station's for the same period."""

    subject_kind: str
    subject: str
    name: str
    figures: tuple[Figure, ...]
    station: tuple[Figure, ...]
