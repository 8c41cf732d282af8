"""The report's data as tables: the figures (the CSV, and the first sheet of the XLSX), their
breakdowns, the bottlenecks, the customers' voice, the measures and the proposals (the other
sheets). Values are the computation's own numbers, unrounded; the XLSX shows them in the report's
units (a rate as a percentage), and a last column repeats the figure as the report prints it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from store.quality_reports import fmt, words
from store.quality_reports.content import Comparison, ReportContent


@dataclass(frozen=True)
class Num:
    """A measured number and its unit (the XLSX formats it by unit; the CSV writes it as is)."""

    value: float | None
    unit: str
    change: bool = False
    """a difference between two values (shown with its sign)"""


Cell = str | int | float | date | Num | None


@dataclass(frozen=True)
class Table:
    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


UNIT_NAMES: Final = {
    "rate": "比率",
    "minutes": "分钟",
    "hours": "小时",
    "working_days": "工作日",
    "count": "个数",
    "per_10k": "件/万户",
}
FIGURE_HEADER: Final = (
    "指标代码",
    "板块",
    "指标",
    "单位",
    "本期",
    "目标",
    "结论",
    "分子",
    "分母",
    "上期",
    "环比变化",
    "环比",
    "去年同期",
    "同比变化",
    "同比",
    "本期（报告所示）",
)


def _compared(compared: Comparison, unit: str) -> tuple[Cell, ...]:
    return (
        Num(compared.value, unit),
        Num(compared.change, unit, change=True),
        fmt.direction(compared.direction) if compared.direction else "",
    )


def figures(content: ReportContent) -> Table:
    rows = []
    for row in content.figures:
        f = row.figure
        rows.append(
            (
                f.key,
                words.section(f.section),
                row.label,
                UNIT_NAMES.get(f.unit, f.unit),
                Num(f.value, f.unit),
                Num(f.target, f.unit),
                fmt.verdict(f),
                f.numerator,
                f.denominator,
                *_compared(row.previous, f.unit),
                *_compared(row.year_before, f.unit),
                fmt.value(f.value, f.unit),
            )
        )
    return Table("指标", FIGURE_HEADER, tuple(rows))


def breakdowns(content: ReportContent) -> Table:
    units = {row.figure.key: row.figure.unit for row in content.figures}
    labels = {row.figure.key: row.label for row in content.figures}
    rows = tuple(
        (
            b.key,
            labels.get(b.key, b.key),
            words.dimension(b.dimension),
            r.label,
            Num(r.value, units.get(b.key, "count")),
            r.numerator,
            r.denominator,
        )
        for b in content.breakdowns
        for r in b.rows
    )
    return Table("分解", ("指标代码", "指标", "维度", "项", "值", "分子", "分母"), rows)


def bottlenecks(content: ReportContent) -> Table:
    rows = tuple(
        (
            b.key,
            words.dimension(b.dimension),
            b.label,
            b.misses,
            Num(b.share, "rate"),
            b.sentence_zh,
        )
        for b in content.bottlenecks
    )
    return Table("瓶颈", ("指标代码", "维度", "集中于", "未达标次数", "占比", "说明"), rows)


def voice(content: ReportContent) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (v.title, r.label, Num(r.value, v.unit)) for v in content.voice.lists for r in v.rows
    ]
    rows += [
        (
            "机器人未能理解的问题",
            i.text,
            i.hits,
            i.intent or "",
            words.INBOX_STATUSES.get(i.status, i.status),
        )
        for i in content.voice.not_understood
    ]
    return Table("客户之声", ("清单", "项", "数量", "机器人判断", "处理状态"), tuple(rows))


def measures(content: ReportContent) -> Table:
    rows = tuple(
        (
            r.measure.title,
            r.measure.figure_key,
            r.label,
            r.measure.owner or "",
            r.measure.due,
            fmt.status(r.measure.status),
            "是" if r.overdue else "否",
            Num(r.measure.baseline, r.unit),
            Num(r.now, r.unit),
            Num(r.measure.target, r.unit),
            Num(r.change, r.unit, change=True),
            fmt.direction(r.direction) if r.direction else "",
            Num(r.progress, "rate"),
        )
        for r in content.measures
    )
    header = (
        "措施",
        "指标代码",
        "指标",
        "负责人",
        "完成期限",
        "状态",
        "逾期",
        "基线",
        "本期",
        "目标",
        "较基线变化",
        "趋势",
        "目标完成度",
    )
    return Table("改进措施", header, rows)


def proposals(content: ReportContent) -> Table:
    rows = tuple((words.PROPOSALS[p.kind], p.key, p.text) for p in content.proposals)
    return Table("调整建议", ("类型", "指标代码", "建议"), rows)


def about(content: ReportContent) -> Table:
    period = content.period
    rows: tuple[tuple[Cell, ...], ...] = (
        ("报告", content.title),
        ("供电所", content.station),
        ("报告期", f"{period.start} 至 {period.end - timedelta(days=1)}（{period.label}）"),
        ("生成时间", f"{content.generated_at:%Y-%m-%d %H:%M}"),
        ("生成方式", words.generated_by(content.generated_by)),
        ("口径", "见 docs/quality.md；比率以 0-1 记（0.95 即 95%），时间按北京时间计算"),
    )
    return Table("报告信息", ("项目", "内容"), rows)


def every_table(content: ReportContent) -> list[Table]:
    """The workbook's sheets, in order."""
    makers = (figures, breakdowns, bottlenecks, voice, measures, proposals, about)
    return [make(content) for make in makers]
