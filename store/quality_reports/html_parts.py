"""The report's sections as HTML (escaped text, classes of report.css): the figures against
their targets with both comparisons, the bottlenecks, the customers' voice, the measures and the
proposed adjustments. Every number is written by fmt.py from the assembled content."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from store.quality_reports import fmt, words
from store.quality_reports.content import (
    Comparison,
    Direction,
    FigureRow,
    MeasureRow,
    Proposal,
    ReportContent,
    VoiceList,
)

_ARROWS = {Direction.BETTER: "better", Direction.WORSE: "worse", Direction.STEADY: "steady"}


def e(text: object) -> str:
    return escape(str(text), quote=True)


def cells(values: Iterable[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{e(v)}</{tag}>" for v in values)


def table(head: Sequence[str], body: Iterable[str], css: str) -> str:
    return (
        f'<table class="{css}"><thead><tr>{cells(head, "th")}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _trend(change: float | None, moved: Direction | None, unit: str) -> str:
    """A change cell: the signed change, coloured and titled by whether it is an improvement."""
    if moved is None:
        return f'<td class="trend none">{e(fmt.change(change, unit))}</td>'
    word = fmt.direction(moved)
    return (
        f'<td class="trend {_ARROWS[moved]}" title="{e(word)}">'
        f'{e(fmt.change(change, unit))}<span class="word">{e(word)}</span></td>'
    )


def _compared(compared: Comparison, unit: str) -> str:
    return f"<td>{e(fmt.value(compared.value, unit))}</td>" + _trend(
        compared.change, compared.direction, unit
    )


def _figure_row(row: FigureRow) -> str:
    f = row.figure
    state = (
        {True: "meets", False: "misses"}.get(f.meets, "plain") if f.meets is not None else "plain"
    )
    return (
        f'<tr data-key="{e(f.key)}" class="{state}"><th scope="row">{e(row.label)}</th>'
        f'<td class="v">{e(fmt.value(f.value, f.unit))}</td>'
        f'<td class="t">{e(fmt.value(f.target, f.unit))}</td>'
        f'<td class="verdict">{e(fmt.verdict(f))}</td>'
        f"{_compared(row.previous, f.unit)}{_compared(row.year_before, f.unit)}"
        "</tr>"
    )


def figures(content: ReportContent) -> str:
    """One table per section, in the computation's display order."""
    order: list[str] = []
    for row in content.figures:
        if row.figure.section not in order:
            order.append(row.figure.section)
    first = content.figures[0] if content.figures else None
    previous = first.previous.period.label if first else ""
    year = first.year_before.period.label if first else ""
    head = ("指标", "本期", "目标", "结论", f"上期 {previous}", "环比", f"去年同期 {year}", "同比")
    parts = []
    for section in order:
        rows = (_figure_row(r) for r in content.figures if r.figure.section == section)
        parts.append(f"<h3>{e(words.section(section))}</h3>{table(head, rows, 'qr-figures')}")
    return "".join(parts) or "<p>本期没有可计算的指标。</p>"


def bottlenecks(content: ReportContent) -> str:
    if not content.bottlenecks:
        if any(row.figure.meets is False for row in content.figures):
            return "<p>未达标的情况较分散，未发现明显集中在某个班组、环节、时段或类别的瓶颈。</p>"
        return "<p>本期没有未达标的指标，未发现瓶颈。</p>"
    items = "".join(
        f'<li data-key="{e(b.key)}"><span class="tag">{e(words.dimension(b.dimension))}</span>'
        f"{e(b.sentence_zh)}</li>"
        for b in content.bottlenecks
    )
    return f'<ol class="qr-list">{items}</ol>'


def _voice_list(voice: VoiceList) -> str:
    rows = (
        f'<tr><th scope="row">{e(r.label)}</th>'
        f'<td class="v">{e(fmt.value(r.value, voice.unit))}</td></tr>'
        for r in voice.rows
    )
    head = (words.dimension(voice.dimension), "数量")
    return f"<h3>{e(voice.title)}</h3>{table(head, rows, 'qr-small')}"


def voice(content: ReportContent) -> str:
    parts = [_voice_list(v) for v in content.voice.lists]
    if not parts:
        parts.append("<p>本期没有投诉、建议或表扬的分类记录。</p>")
    items = content.voice.not_understood
    parts.append("<h3>客服机器人未能理解的问题（NLU 待处理箱）</h3>")
    if items:
        rows = (
            f'<tr><td>{e(i.text)}</td><td class="v">{i.hits}</td>'
            f"<td>{e(i.intent or fmt.NONE)}</td>"
            f"<td>{e(words.INBOX_STATUSES.get(i.status, i.status))}</td></tr>"
            for i in items
        )
        parts.append(
            table(("客户原话（已脱敏）", "次数", "机器人判断", "处理状态"), rows, "qr-small")
        )
    else:
        parts.append("<p>本期没有记录到机器人未能理解的问题。</p>")
    return "".join(parts)


def _measure_row(row: MeasureRow) -> str:
    m, unit = row.measure, row.unit
    state = "overdue" if row.overdue else "plain"
    values = (
        row.label,
        m.owner or fmt.NONE,
        str(m.due) if m.due else fmt.NONE,
        fmt.status(m.status) + ("（已逾期）" if row.overdue else ""),
        fmt.value(m.baseline, unit),
        fmt.value(row.now, unit),
        fmt.value(m.target, unit),
    )
    return (
        f'<tr data-measure-of="{e(m.figure_key)}" class="{state}"><th scope="row">{e(m.title)}</th>'
        f"{cells(values)}{_trend(row.change, row.direction, unit)}"
        f"<td>{e(fmt.share(row.progress))}</td></tr>"
    )


MEASURE_HEAD = (
    "措施", "指标", "负责人", "完成期限", "状态", "基线", "本期", "目标", "较基线", "目标完成度",
)  # fmt: skip


def measures(content: ReportContent) -> str:
    if not content.measures:
        return "<p>改进计划中还没有措施。</p>"
    return table(MEASURE_HEAD, (_measure_row(r) for r in content.measures), "qr-measures")


def proposals(items: Sequence[Proposal]) -> str:
    if not items:
        return "<p>各项指标达标，措施按计划推进，本期无调整建议。</p>"
    rows = "".join(
        f'<li class="{e(p.kind)}" data-key="{e(p.key)}"><span class="tag">'
        f"{e(words.PROPOSALS[p.kind])}</span>{e(p.text)}</li>"
        for p in items
    )
    return f'<ol class="qr-list">{rows}</ol>'
