"""What one evaluation report says, as values: assembled once (assemble.py) and rendered as
HTML, PDF, CSV and XLSX (render_html.py, pdf.py, tables.py), so every output shows the same
figures, and those are the figures of `store.quality.snapshot()`: one computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from store.quality import Better, Bottleneck, Breakdown, BreakdownRow, Figure, Period
from store.quality_reports.kinds import ReportKind


class Direction(StrEnum):
    """How a figure moved against an earlier period, judged by which way it improves."""

    BETTER = "better"
    WORSE = "worse"
    STEADY = "steady"


@dataclass(frozen=True)
class Comparison:
    """This period's figure against an earlier period's (previous, or a year before)."""

    period: Period
    value: float | None
    change: float | None
    """this period's value minus the earlier one"""
    direction: Direction | None


@dataclass(frozen=True)
class FigureRow:
    figure: Figure
    label: str
    previous: Comparison
    year_before: Comparison


@dataclass(frozen=True)
class VoiceList:
    """One list of the customers' voice: complaint categories, suggestion or praise themes."""

    key: str
    dimension: str
    title: str
    unit: str
    rows: tuple[BreakdownRow, ...]


@dataclass(frozen=True)
class InboxItem:
    """A message the bot failed to understand, with how often customers wrote it."""

    text: str
    """masked: phone and account numbers never reach a report"""
    hits: int
    intent: str | None
    """what the bot thought, if anything"""
    status: str


@dataclass(frozen=True)
class Voice:
    lists: tuple[VoiceList, ...]
    not_understood: tuple[InboxItem, ...]


@dataclass(frozen=True)
class Measure:
    """An improvement measure of the plan (store/services/quality_plan.py), as a report reads it."""

    title: str
    figure_key: str
    baseline: float | None
    target: float | None
    owner: str | None
    due: date | None
    status: str
    """planned | in_progress | done | dropped"""


OPEN_STATUSES = frozenset({"planned", "in_progress"})
"""A measure still under way: it can be overdue, and it covers its figure's missed target."""


@dataclass(frozen=True)
class MeasureRow:
    measure: Measure
    label: str
    unit: str
    better: Better
    now: float | None
    """its figure in the report's period"""
    change: float | None
    """now minus the baseline"""
    direction: Direction | None
    progress: float | None
    """the share of the way from the baseline to the target covered (may pass 1 or be < 0)"""
    overdue: bool
    reached: bool | None
    """whether `now` reaches the measure's own target"""


class ProposalKind(StrEnum):
    NEW_MEASURE = "new_measure"
    """a missed target that no open measure addresses"""
    OVERDUE = "overdue"
    """an open measure past its due date"""
    REVIEW = "review"
    """a measure done while its figure still misses the target"""
    ADJUST = "adjust"
    """an open measure whose figure moved away from its target since the baseline"""
    CLOSE = "close"
    """an open measure whose own target is reached"""
    WATCH = "watch"
    """a figure that meets its target but worsened against the previous period"""


@dataclass(frozen=True)
class Proposal:
    kind: ProposalKind
    key: str
    """the figure it is about"""
    text: str


@dataclass(frozen=True)
class ReportContent:
    station: str
    kind: ReportKind
    period: Period
    title: str
    generated_at: datetime
    generated_by: str
    """"schedule" or the staff member's username"""
    figures: tuple[FigureRow, ...]
    breakdowns: tuple[Breakdown, ...]
    bottlenecks: tuple[Bottleneck, ...]
    voice: Voice
    measures: tuple[MeasureRow, ...]
    proposals: tuple[Proposal, ...]

    def met(self) -> tuple[int, int]:
        """How many figures with a target and a value meet it, out of how many."""
        judged = [row.figure.meets for row in self.figures if row.figure.meets is not None]
        return sum(1 for meets in judged if meets), len(judged)
