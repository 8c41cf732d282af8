"""The adjustments a report proposes (the paper's 3.3: evaluate, then adjust), by plain rules
over the figures and the plan's measures:

- a missed target that no open measure (planned or in progress) addresses: propose a measure,
  pointing at where the misses concentrate when the bottleneck analysis knows;
- an open measure past its due date: flag it;
- an open measure whose own target is reached: propose closing it;
- an open measure whose figure moved away from its target since the baseline: propose adjusting;
- a measure done while its figure still misses the target: propose a review and a follow-up;
- a figure that meets its target but worsened against the previous period: watch it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from store.quality import Bottleneck, Figure
from store.quality_reports import fmt
from store.quality_reports.content import (
    OPEN_STATUSES,
    Direction,
    FigureRow,
    MeasureRow,
    Proposal,
    ProposalKind,
)


def _where(key: str, bottlenecks: Sequence[Bottleneck]) -> str:
    found = next((b for b in bottlenecks if b.key == key), None)
    return f"（{found.sentence_zh.rstrip('。')}）" if found else ""


def _figure_proposals(
    rows: Iterable[FigureRow], covered: set[str], bottlenecks: Sequence[Bottleneck]
) -> Iterator[Proposal]:
    for row in rows:
        f, name = row.figure, row.label
        if f.meets is False and f.key not in covered:
            text = (
                f"「{name}」本期 {fmt.value(f.value, f.unit)}，"
                f"未达到目标 {fmt.value(f.target, f.unit)}，"
                f"且没有进行中的改进措施：建议制定措施{_where(f.key, bottlenecks)}。"
            )
            yield Proposal(ProposalKind.NEW_MEASURE, f.key, text)
        elif f.meets is True and row.previous.direction is Direction.WORSE:
            text = (
                f"「{name}」虽达标（{fmt.value(f.value, f.unit)}），但较上期变差"
                f" {fmt.change(row.previous.change, f.unit)}，请关注。"
            )
            yield Proposal(ProposalKind.WATCH, f.key, text)


def _open_measure(row: MeasureRow) -> Iterator[Proposal]:
    m, unit = row.measure, row.unit
    if row.overdue:
        text = (
            f"措施「{m.title}」已过完成期限（{m.due}），仍为{fmt.status(m.status)}："
            "请更新进度或调整期限。"
        )
        yield Proposal(ProposalKind.OVERDUE, m.figure_key, text)
    if row.reached:
        text = (
            f"措施「{m.title}」的目标已达到（{row.label} {fmt.value(row.now, unit)}，"
            f"目标 {fmt.value(m.target, unit)}）：可验收完成并巩固成果。"
        )
        yield Proposal(ProposalKind.CLOSE, m.figure_key, text)
    elif row.direction is Direction.WORSE:
        text = (
            f"措施「{m.title}」执行以来「{row.label}」由 {fmt.value(m.baseline, unit)}"
            f" 变为 {fmt.value(row.now, unit)}，未见改善：建议调整措施。"
        )
        yield Proposal(ProposalKind.ADJUST, m.figure_key, text)


def _done_measure(row: MeasureRow, figures: dict[str, Figure]) -> Iterator[Proposal]:
    m, figure = row.measure, figures.get(row.measure.figure_key)
    if figure is not None and figure.meets is False:
        text = (
            f"措施「{m.title}」已完成，但「{row.label}」仍未达标"
            f"（{fmt.value(figure.value, figure.unit)}，"
            f"目标 {fmt.value(figure.target, figure.unit)}）：建议复盘并制定后续措施。"
        )
        yield Proposal(ProposalKind.REVIEW, m.figure_key, text)


def propose(
    figures: Sequence[FigureRow], measures: Sequence[MeasureRow], bottlenecks: Sequence[Bottleneck]
) -> list[Proposal]:
    """Every proposal of the report, the figures' first (in display order), then the measures'."""
    covered = {r.measure.figure_key for r in measures if r.measure.status in OPEN_STATUSES}
    by_key = {row.figure.key: row.figure for row in figures}
    found = list(_figure_proposals(figures, covered, bottlenecks))
    for row in measures:
        if row.measure.status in OPEN_STATUSES:
            found += _open_measure(row)
        elif row.measure.status == "done":
            found += _done_measure(row, by_key)
    return found
