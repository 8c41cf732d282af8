"""The evaluation reports' own logic on crafted values (no database): the trend's direction,
the measures' execution, the rules of the proposed adjustments, which periods are due, and
that the HTML, the CSV and the XLSX write exactly the figures they were given."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from store.config import PROJECT_ROOT
from store.quality import (
    Better,
    Bottleneck,
    Breakdown,
    BreakdownRow,
    Figure,
    Filters,
    Period,
    Snapshot,
)
from store.quality_reports import ReportKind, check_period, kind_of, period_title
from store.quality_reports.assemble import Request, assemble, direction
from store.quality_reports.config import ConfigError, ReportConfig, read_report_config
from store.quality_reports.content import Direction, InboxItem, Measure, ProposalKind
from store.quality_reports.exports import to_csv, to_xlsx
from store.quality_reports.render_html import document, parts
from store.quality_reports.schedule import due
from store.quality_reports.tables import every_table, figures

TZ = ZoneInfo("Asia/Shanghai")
CONFIG = read_report_config(PROJECT_ROOT / "conf")
LABELS = {
    "repairs.arrival_on_time_rate": "到达及时率",
    "repairs.arrival_minutes": "平均到达时间",
    "complaints.count": "投诉",
    "complaints.per_10k": "万户投诉量",
    "conversations.csat": "满意度",
}


def fig(key: str, value: float | None, unit: str, target: float | None, better: Better) -> Figure:
    return Figure(key, key.split(".")[0], value, unit, target, better)


SPECS: dict[str, tuple[str, float | None, Better]] = {
    "repairs.arrival_on_time_rate": ("rate", 0.95, Better.HIGHER),
    "repairs.arrival_minutes": ("minutes", 80.0, Better.LOWER),
    "complaints.count": ("count", None, Better.LOWER),
    "complaints.per_10k": ("per_10k", 1.0, Better.LOWER),
    "conversations.csat": ("rate", 0.9, Better.HIGHER),
}
"""The crafted figures: unit, target, which way is better."""


@dataclass
class Crafted:
    """A `Source` whose three snapshots (this period, the previous, a year before) are given."""

    values: dict[str, dict[str, float | None]]
    """period label → figure key → value"""
    measures_: list[Measure] = field(default_factory=list)
    inbox: list[InboxItem] = field(default_factory=list)

    def snapshot(self, period: Period) -> Snapshot:
        given = self.values.get(period.label, {})
        figs = tuple(
            fig(key, given.get(key), unit, target, better)
            for key, (unit, target, better) in SPECS.items()
        )
        categories = (BreakdownRow("电费争议", 7), BreakdownRow("抢修态度", 9))
        breakdowns = (Breakdown("complaints.count", "category", categories),)
        return Snapshot(period, Filters(), figs, breakdowns)

    def bottlenecks(self, snap: Snapshot) -> list[Bottleneck]:
        sentence = "到达超时集中在第二抢修班（5次中的4次，80%）"
        return [
            Bottleneck("repairs.arrival_on_time_rate", "crew", "第二抢修班", 4, 0.8, sentence, "")
        ]

    def label(self, key: str) -> str:
        return LABELS[key]

    def measures(self) -> list[Measure]:
        return self.measures_

    def not_understood(self, period: Period, limit: int) -> list[InboxItem]:
        return self.inbox[:limit]


NOVEMBER = {
    "2026-11": {
        "repairs.arrival_on_time_rate": 0.875,  # misses 0.95
        "repairs.arrival_minutes": 62.5,  # meets 80
        "complaints.count": 16,
        "complaints.per_10k": 1.2,  # misses 1.0
        "conversations.csat": 0.91,  # meets 0.9, but 0.96 last month
    },
    "2026-10": {
        "repairs.arrival_on_time_rate": 0.96,
        "repairs.arrival_minutes": 70.0,
        "complaints.count": 10,
        "complaints.per_10k": 1.2,
        "conversations.csat": 0.96,
    },
    "2025-11": {"repairs.arrival_on_time_rate": 0.8},
}


def report(source: Crafted, period: str = "2026-11"):  # type: ignore[no-untyped-def]
    made = datetime(2026, 12, 1, 6, tzinfo=TZ)
    return assemble(source, Request(Period.parse(period), "青溪镇供电所", made, "schedule"), CONFIG)


def test_direction_by_which_way_a_figure_improves() -> None:
    assert direction(Better.HIGHER, 0.9, 0.8, 0.02) is Direction.BETTER
    assert direction(Better.LOWER, 0.9, 0.8, 0.02) is Direction.WORSE
    assert direction(Better.LOWER, 60, 90, 0.02) is Direction.BETTER
    assert direction(Better.HIGHER, 0.901, 0.9, 0.02) is Direction.STEADY  # within 2% of 0.9
    assert direction(Better.HIGHER, 0, 0, 0.02) is Direction.STEADY
    assert direction(Better.HIGHER, None, 0.9, 0.02) is None


def test_the_comparisons_with_the_previous_period_and_a_year_before() -> None:
    content = report(Crafted(NOVEMBER))
    rate = next(r for r in content.figures if r.figure.key == "repairs.arrival_on_time_rate")
    assert (rate.previous.period.label, rate.year_before.period.label) == ("2026-10", "2025-11")
    assert (rate.previous.value, rate.previous.change) == (0.96, -0.085)  # not -0.08499999…
    assert rate.previous.direction is Direction.WORSE
    assert (rate.year_before.change, rate.year_before.direction) == (0.075, Direction.BETTER)
    minutes = next(r for r in content.figures if r.figure.key == "repairs.arrival_minutes")
    assert minutes.year_before.value is None
    assert (minutes.year_before.change, minutes.year_before.direction) == (None, None)
    assert content.met() == (2, 4)  # arrival minutes and CSAT of the four with a target


def test_proposals_follow_the_rules() -> None:
    measures = [
        # open and past its due date (before 1 December), its figure still under target
        Measure(
            "第二抢修班夜间备勤",
            "repairs.arrival_on_time_rate",
            0.9,
            0.95,
            "chief",
            date(2026, 11, 30),
            "in_progress",
        ),
        # done, but the figure still misses its target
        Measure(
            "投诉回访话术培训", "complaints.per_10k", 1.5, 1.0, "chief", date(2027, 1, 31), "done"
        ),
        # open, its own target reached already
        Measure("满意度回访", "conversations.csat", 0.85, 0.9, None, None, "planned"),
        # dropped: no rule looks at it
        Measure("旧措施", "complaints.count", 20, 10, None, date(2026, 1, 1), "dropped"),
    ]
    content = report(Crafted(NOVEMBER, measures_=measures))
    found = [(p.kind, p.key) for p in content.proposals]
    assert found == [
        (ProposalKind.NEW_MEASURE, "complaints.per_10k"),  # missed, its only measure is done
        (ProposalKind.WATCH, "conversations.csat"),  # meets, but 0.96 → 0.91
        (ProposalKind.OVERDUE, "repairs.arrival_on_time_rate"),
        (ProposalKind.ADJUST, "repairs.arrival_on_time_rate"),  # 0.9 at the start, 0.875 now
        (ProposalKind.REVIEW, "complaints.per_10k"),
        (ProposalKind.CLOSE, "conversations.csat"),
    ]
    texts = {p.kind: p.text for p in content.proposals}
    assert texts[ProposalKind.NEW_MEASURE] == (
        "「万户投诉量」本期 1.20 件/万户，未达到目标 1.00 件/万户，"
        "且没有进行中的改进措施：建议制定措施。"
    )
    assert "2026-11-30" in texts[ProposalKind.OVERDUE]
    arrival = content.measures[0]
    assert (arrival.now, arrival.change, arrival.overdue) == (0.875, -0.025, True)
    assert arrival.progress == pytest.approx(-0.5)  # half the way back from the target
    assert content.measures[2].reached is True


def test_a_missed_target_with_an_open_measure_gets_no_new_measure_but_its_bottleneck_shows() -> (
    None
):
    content = report(Crafted(NOVEMBER))
    new = [p for p in content.proposals if p.kind is ProposalKind.NEW_MEASURE]
    assert [p.key for p in new] == ["repairs.arrival_on_time_rate", "complaints.per_10k"]
    assert "（到达超时集中在第二抢修班（5次中的4次，80%））" in new[0].text
    covered = Measure("备勤", "repairs.arrival_on_time_rate", 0.8, 0.95, None, None, "planned")
    content = report(Crafted(NOVEMBER, measures_=[covered]))
    assert "repairs.arrival_on_time_rate" not in [
        p.key for p in content.proposals if p.kind is ProposalKind.NEW_MEASURE
    ]


def _html_rows(document_text: str) -> dict[str, list[str]]:
    """The figures' table rows of the HTML: key → the texts of its cells."""
    rows = re.findall(
        r'<tr data-key="([^"]+)" class="(?:meets|misses|plain)">(.*?)</tr>', document_text
    )
    return {
        key: [
            unescape(re.sub(r"<[^>]+>", "", c))
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", body)
        ]
        for key, body in rows
    }


def test_html_csv_and_xlsx_write_the_figures_they_were_given() -> None:
    source = Crafted(NOVEMBER, inbox=[InboxItem("电表箱门坏了找谁", 7, "电表问题/校验", "open")])
    content = report(source)
    html_text = document(content)
    rows = _html_rows(html_text)
    assert rows["repairs.arrival_on_time_rate"][:4] == ["到达及时率", "87.5%", "95.0%", "未达标"]
    assert rows["repairs.arrival_on_time_rate"][4:6] == ["96.0%", "-8.5 个百分点变差"]
    assert rows["complaints.per_10k"][1:4] == ["1.20 件/万户", "1.00 件/万户", "未达标"]
    assert rows["complaints.count"][1:4] == ["16", "—", "无目标"]
    assert "电表箱门坏了找谁" in html_text
    assert "抢修态度" in html_text
    assert html_text.index("抢修态度") < html_text.index("电费争议")  # the most first

    table = list(csv.reader(io.StringIO(to_csv(figures(content)).decode("utf-8-sig"))))
    by_key = {line[0]: dict(zip(table[0], line, strict=True)) for line in table[1:]}
    snap = source.snapshot(Period.parse("2026-11"))
    for figure in snap.figures:
        written = by_key[figure.key]["本期"]
        assert (float(written) if written else None) == figure.value
    assert by_key["repairs.arrival_on_time_rate"]["环比变化"] == "-0.085"

    book = load_workbook(io.BytesIO(to_xlsx(every_table(content))))
    assert book.sheetnames == [
        "指标",
        "分解",
        "瓶颈",
        "客户之声",
        "改进措施",
        "调整建议",
        "报告信息",
    ]
    sheet = book["指标"]
    header = [c.value for c in sheet[1]]
    values = {
        row[0]: row[header.index("本期")] for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    assert values == {f.key: f.value for f in snap.figures}
    rate_cell = sheet.cell(row=2, column=header.index("本期") + 1)
    assert rate_cell.number_format == "0.0%"


def test_the_console_takes_the_style_and_the_article_back_out() -> None:
    style, article = parts(document(report(Crafted(NOVEMBER))))
    assert "@page" in style
    assert article.startswith('<article class="qr" data-period="2026-11" data-kind="monthly">')
    assert article.endswith("</article>")
    with pytest.raises(ValueError, match="not a report"):
        parts("<html><body>nothing</body></html>")


def test_kinds_titles_and_what_may_be_reported() -> None:
    labels = ("2026-11", "2026-Q4", "2026", "2026-11-01..2026-11-15")
    kinds = [ReportKind.MONTHLY, ReportKind.QUARTERLY, ReportKind.ANNUAL, ReportKind.CUSTOM]
    assert [kind_of(Period.parse(label)) for label in labels] == kinds
    assert period_title(Period.parse("2026-Q4")) == "2026年第四季度"
    assert period_title(Period.parse("2026-11-01..2026-11-15")) == "2026-11-01 至 2026-11-15"
    assert report(Crafted({}), "2026").title == "青溪镇供电所2026年度服务质量评价报告"
    today = date(2026, 11, 23)
    check_period(Period.parse("2026-11"), today, CONFIG)  # a running month: so far
    with pytest.raises(ValueError, match="尚未开始"):
        check_period(Period.parse("2026-12"), today, CONFIG)
    with pytest.raises(ValueError, match="最长 366 天"):
        check_period(Period.parse("2024-01-01..2025-06-30"), today, CONFIG)


def test_due_is_the_latest_closed_period_of_each_kind_after_the_delay() -> None:
    just_before = datetime(2026, 12, 31, 21, 59, tzinfo=UTC)  # 2027-01-01 05:59 at the station
    assert [(k, p.label) for k, p in due(just_before, TZ, CONFIG)] == [
        (ReportKind.MONTHLY, "2026-11"),
        (ReportKind.QUARTERLY, "2026-Q3"),
        (ReportKind.ANNUAL, "2025"),
    ]
    after = just_before + timedelta(minutes=1)  # 06:00: six hours after the year closed
    assert [p.label for _, p in due(after, TZ, CONFIG)] == ["2026-12", "2026-Q4", "2026"]


def test_the_configuration_is_checked(tmp_path: Path) -> None:
    folder = tmp_path
    text = (PROJECT_ROOT / "conf" / "quality_reports.yml").read_text("utf-8")
    (folder / "quality_reports.yml").write_text(text.replace("[monthly,", "[weekly,"), "utf-8")
    with pytest.raises(ConfigError, match=r"schedule\.kinds"):
        read_report_config(folder)
    (folder / "quality_reports.yml").write_text(
        text.replace("kinds: [monthly, quarterly, annual]", "kinds: []"), "utf-8"
    )
    assert read_report_config(folder).kinds == ()
    assert isinstance(CONFIG, ReportConfig)
