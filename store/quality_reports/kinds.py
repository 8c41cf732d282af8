"""The kinds of evaluation report and which period each covers."""

from __future__ import annotations

from datetime import timedelta

from store.quality import Grain, Period
from store.services.quality_reports import ReportKind

__all__ = ["KIND_NAMES", "ReportKind", "kind_of", "period_title", "report_title"]


_BY_GRAIN = {
    Grain.MONTH: ReportKind.MONTHLY,
    Grain.QUARTER: ReportKind.QUARTERLY,
    Grain.YEAR: ReportKind.ANNUAL,
}
KIND_NAMES = {
    ReportKind.MONTHLY: "月度",
    ReportKind.QUARTERLY: "季度",
    ReportKind.ANNUAL: "年度",
    ReportKind.CUSTOM: "专项",
}
"""What staff read for a kind (the list page, the report's title)."""


def kind_of(period: Period) -> ReportKind:
    """A calendar month, quarter or year has its own kind; any other range is custom."""
    return _BY_GRAIN.get(period.grain, ReportKind.CUSTOM)


def period_title(period: Period) -> str:
    """The period as the report's title says it: 2026年11月, 2026年第四季度, 2026年度."""
    start = period.start
    if period.grain is Grain.MONTH:
        return f"{start.year}年{start.month}月"
    if period.grain is Grain.QUARTER:
        quarter = "一二三四"[(start.month - 1) // 3]
        return f"{start.year}年第{quarter}季度"
    if period.grain is Grain.YEAR:
        return f"{start.year}年度"
    return f"{start:%Y-%m-%d} 至 {period.end - timedelta(days=1):%Y-%m-%d}"


def report_title(station: str, period: Period) -> str:
    """青溪镇供电所2026年11月服务质量评价报告: the report's title, from its station and period."""
    return f"{station}{period_title(period)}服务质量评价报告"
