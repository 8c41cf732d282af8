"""Which reports are due: after a month, a quarter or a year has closed (its last local day over,
plus conf/quality_reports.yml `delay_hours`), the report of the period just closed, for each kind
the configuration names. Only the latest closed period of each kind: the gateway never back-fills
years of history on its first start (reports of older periods are made on demand)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from store.quality import Period
from store.quality_reports.config import ReportConfig
from store.quality_reports.kinds import ReportKind


def _current(kind: ReportKind, day: date) -> Period:
    if kind is ReportKind.MONTHLY:
        return Period.parse(f"{day:%Y-%m}")
    if kind is ReportKind.QUARTERLY:
        return Period.parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    return Period.parse(str(day.year))


def due(now: datetime, tz: ZoneInfo, config: ReportConfig) -> list[tuple[ReportKind, Period]]:
    """The latest closed period of each scheduled kind, as of `now` (aware)."""
    day = (now - config.delay).astimezone(tz).date()
    return [(kind, _current(kind, day).previous()) for kind in config.kinds]
