"""The report as one self-contained HTML document (its style inline: report.css), what the
console shows, what is stored, and what the PDF is printed from.

The console shows a stored report inside its own page: `parts()` takes the style and the
`<article>` back out of the stored document (the console allows exactly that style by its hash
in the page's Content-Security-Policy, and runs no script on it).
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Final, NamedTuple

from store.quality_reports import fmt, html_parts, words
from store.quality_reports.content import OPEN_STATUSES, Direction, ReportContent
from store.quality_reports.html_parts import e

_STYLE: Final = re.compile(r"<style>(.*?)</style>", re.S)
_ARTICLE: Final = re.compile(r'<article class="qr".*</article>', re.S)


@cache
def stylesheet() -> str:
    """report.css, the one style of the report on screen and in print."""
    return resources.files("store.quality_reports").joinpath("report.css").read_text("utf-8")


class Parts(NamedTuple):
    style: str
    article: str


def parts(document: str) -> Parts:
    """The style and the article of a stored report (ValueError when it has neither)."""
    style, article = _STYLE.search(document), _ARTICLE.search(document)
    if style is None or article is None:
        raise ValueError("not a report document")
    return Parts(style.group(1), article.group(0))


def _counts(content: ReportContent, which: str) -> tuple[int, int]:
    moved = [getattr(row, which).direction for row in content.figures]
    return moved.count(Direction.BETTER), moved.count(Direction.WORSE)


def summary(content: ReportContent) -> str:
    met, judged = content.met()
    missed = [r.label for r in content.figures if r.figure.meets is False]
    up, down = _counts(content, "previous")
    year_up, year_down = _counts(content, "year_before")
    open_ = [r for r in content.measures if r.measure.status in OPEN_STATUSES]
    overdue = sum(1 for r in content.measures if r.overdue)
    text = [
        f"本期共有 {judged} 项指标可与目标对照，达标 {met} 项，未达标 {judged - met} 项。",
        f"与上期相比改善 {up} 项、变差 {down} 项；"
        f"与去年同期相比改善 {year_up} 项、变差 {year_down} 项。",
    ]
    if missed:
        text.append("未达标的指标：" + "、".join(f"「{name}」" for name in missed) + "。")
    text.append(
        f"改进计划共有措施 {len(content.measures)} 项，"
        f"其中在办 {len(open_)} 项、逾期 {overdue} 项；"
        f"本报告提出调整建议 {len(content.proposals)} 条。"
    )
    return "".join(f"<p>{e(line)}</p>" for line in text)


def _meta(content: ReportContent) -> str:
    period = content.period
    first = content.figures[0] if content.figures else None
    compared = (
        f"上期 {first.previous.period.label}，去年同期 {first.year_before.period.label}"
        if first
        else fmt.NONE
    )
    made = content.generated_at  # the station's local time (assemble)
    running = "（生成时本期尚未结束）" if made.date() < period.end else ""
    rows = (
        ("报告期", f"{period.start} 至 {period.end - timedelta(days=1)}{running}"),
        ("对比期", compared),
        ("生成时间", f"{made:%Y-%m-%d %H:%M}（北京时间）"),
        ("生成方式", words.generated_by(content.generated_by)),
    )
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows)
    return f'<dl class="qr-meta">{items}</dl>'


def _section(number: str, anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{number}、{e(title)}</h2>{body}</section>'


def article(content: ReportContent) -> str:
    sections = (
        ("一", "summary", "总体情况", summary(content)),
        ("二", "figures", "指标与目标", html_parts.figures(content)),
        ("三", "bottlenecks", "瓶颈分析", html_parts.bottlenecks(content)),
        ("四", "voice", "客户之声", html_parts.voice(content)),
        ("五", "measures", "改进措施执行情况", html_parts.measures(content)),
        ("六", "proposals", "调整建议", html_parts.proposals(content.proposals)),
    )
    body = "".join(_section(*section) for section in sections)
    data = f'data-period="{e(content.period.label)}" data-kind="{e(content.kind)}"'
    return (
        f'<article class="qr" {data}>'
        f'<header class="qr-head"><p class="qr-station">{e(content.station)}</p>'
        f"<h1>{e(content.title)}</h1>{_meta(content)}</header>{body}"
        '<footer class="qr-foot"><p>各项指标的口径（计算公式、计入与不计入的情况、工作时间）见'
        "《服务质量指标说明》（docs/quality.md），时间均按北京时间（Asia/Shanghai）计算；"
        "目标取自供电服务承诺与质量目标配置。本报告由系统根据业务记录自动计算生成。</p></footer>"
        "</article>"
    )


def document(content: ReportContent) -> str:
    """The whole report as one HTML file (UTF-8, no outside resource)."""
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{e(content.title)}</title><style>{stylesheet()}</style></head>"
        f"<body>{article(content)}</body></html>"
    )
