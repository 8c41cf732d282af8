"""Putting a report together from the one computation (`store.quality`): this period's snapshot
beside the previous period's and the same period a year before, the bottlenecks, the customers'
voice, the plan's measures and the adjustments the rules propose.

The figures come from a `Source` (the database's, source.py, or a test's), and the report
copies them as they are: the outputs never compute a figure of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from store.quality import Better, Bottleneck, Breakdown, Figure, Period, Snapshot
from store.quality_reports.config import ReportConfig
from store.quality_reports.content import (
    OPEN_STATUSES,
    Comparison,
    Direction,
    FigureRow,
    InboxItem,
    Measure,
    MeasureRow,
    ReportContent,
    Voice,
    VoiceList,
)
from store.quality_reports.kinds import kind_of, report_title
from store.quality_reports.proposals import propose

VOICE_SECTION: Final = "complaints"
VOICE_DIMENSIONS: Final = {"category": "类别", "theme": "主题"}
"""The breakdowns of the complaints-and-feedback figures that are the customers' own words."""


class Source(Protocol):
    """Where a report's figures come from."""

    def snapshot(self, period: Period) -> Snapshot: ...

    def bottlenecks(self, snap: Snapshot) -> list[Bottleneck]: ...

    def label(self, key: str) -> str: ...

    def measures(self) -> list[Measure]: ...

    def not_understood(self, period: Period, limit: int) -> list[InboxItem]: ...


@dataclass(frozen=True)
class Request:
    """What to report on, for whom, and who asked."""

    period: Period
    station: str
    generated_at: datetime
    generated_by: str


def direction(
    better: Better, now: float | None, then: float | None, steady: float
) -> Direction | None:
    """Better, worse or steady (a change within `steady` of the earlier value's size)."""
    if now is None or then is None:
        return None
    delta = now - then
    if abs(delta) <= steady * abs(then) or delta == 0:
        return Direction.STEADY
    improved = delta > 0 if better is Better.HIGHER else delta < 0
    return Direction.BETTER if improved else Direction.WORSE


def _difference(now: float, then: float) -> float:
    """now - then without the binary fractions' noise (0.875 - 0.96 is -0.085, not
    -0.08499999999999996): the CSV shows it as it is."""
    return round(now - then, 10)


def _compare(figure: Figure, earlier: Snapshot, steady: float) -> Comparison:
    try:
        then = earlier.figure(figure.key).value
    except KeyError:
        then = None
    change = None if figure.value is None or then is None else _difference(figure.value, then)
    moved = direction(figure.better, figure.value, then, steady)
    return Comparison(earlier.period, then, change, moved)


def figure_rows(
    source: Source, snap: Snapshot, previous: Snapshot, year_before: Snapshot, steady: float
) -> tuple[FigureRow, ...]:
    return tuple(
        FigureRow(
            figure=figure,
            label=source.label(figure.key),
            previous=_compare(figure, previous, steady),
            year_before=_compare(figure, year_before, steady),
        )
        for figure in snap.figures
    )


def _voice_list(source: Source, snap: Snapshot, breakdown: Breakdown, top: int) -> VoiceList:
    unit = snap.figure(breakdown.key).unit
    ranked = sorted(breakdown.rows, key=lambda row: -(row.value or 0))
    title = f"{source.label(breakdown.key)}（按{VOICE_DIMENSIONS[breakdown.dimension]}）"
    return VoiceList(breakdown.key, breakdown.dimension, title, unit, tuple(ranked[:top]))


def _counted(snap: Snapshot, key: str) -> bool:
    try:
        return snap.figure(key).unit == "count"
    except KeyError:
        return False


def voice(source: Source, snap: Snapshot, top: int) -> Voice:
    """How many complaints, suggestions and praise of each category or theme (the counts'
    breakdowns: a rate by category is a figure's breakdown, not the customers' voice)."""
    lists = tuple(
        _voice_list(source, snap, breakdown, top)
        for breakdown in snap.breakdowns
        if breakdown.key.split(".")[0] == VOICE_SECTION
        and breakdown.dimension in VOICE_DIMENSIONS
        and breakdown.rows
        and _counted(snap, breakdown.key)
    )
    return Voice(lists, tuple(source.not_understood(snap.period, top)))


def _progress(measure: Measure, now: float | None) -> float | None:
    if now is None or measure.baseline is None or measure.target is None:
        return None
    span = measure.target - measure.baseline
    return None if span == 0 else (now - measure.baseline) / span


def _reached(measure: Measure, now: float | None, better: Better) -> bool | None:
    if now is None or measure.target is None:
        return None
    return now >= measure.target if better is Better.HIGHER else now <= measure.target


def measure_row(source: Source, snap: Snapshot, measure: Measure, steady: float) -> MeasureRow:
    try:
        figure: Figure | None = snap.figure(measure.figure_key)
    except KeyError:
        figure = None
    now = figure.value if figure is not None else None
    better = figure.better if figure is not None else Better.HIGHER
    change = None if now is None or measure.baseline is None else _difference(now, measure.baseline)
    open_ = measure.status in OPEN_STATUSES
    return MeasureRow(
        measure=measure,
        label=source.label(measure.figure_key),
        unit=figure.unit if figure is not None else "count",
        better=better,
        now=now,
        change=change,
        direction=direction(better, now, measure.baseline, steady),
        progress=_progress(measure, now),
        overdue=open_ and measure.due is not None and measure.due < snap.period.end,
        reached=_reached(measure, now, better),
    )


def assemble(source: Source, request: Request, config: ReportConfig) -> ReportContent:
    """The whole report of `request.period` (three snapshots: this period, the previous one and
    the same period a year before)."""
    period, steady = request.period, config.steady_share
    snap = source.snapshot(period)
    previous = source.snapshot(period.previous())
    earlier = period.year_before()  # a year's previous period is the year before: computed once
    year_before = previous if earlier == previous.period else source.snapshot(earlier)
    figures = figure_rows(source, snap, previous, year_before, steady)
    measures = tuple(measure_row(source, snap, m, steady) for m in source.measures())
    found = source.bottlenecks(snap)
    return ReportContent(
        station=request.station,
        kind=kind_of(period),
        period=period,
        title=report_title(request.station, period),
        generated_at=request.generated_at,
        generated_by=request.generated_by,
        figures=figures,
        breakdowns=snap.breakdowns,
        bottlenecks=tuple(found[: config.bottlenecks]),
        voice=voice(source, snap, config.top_items),
        measures=measures,
        proposals=tuple(propose(figures, measures, found)),
    )
