"""The scorecards as CSV for the performance review: one row per agent or crew, each figure
beside the station's average, Chinese headers, UTF-8 with a byte-order mark so that Excel
opens it as such. Numbers are store/quality's, rounded the way the page shows them: rates as
percentages, everything with one decimal at most, halves rounded up (四舍五入) like the page's
Math.round."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from bot.console.quality_views import Labeller, number
from store.quality import Figure, Period, Scorecard

UNITS: Final = {
    "rate": "%",
    "minutes": "分钟",
    "hours": "小时",
    "working_days": "工作日",
    "count": "",
    "per_10k": "每万户",
}
"""How each unit of store/quality is written in a column header."""
KINDS: Final = {"agent": "坐席", "crew": "抢修班组"}


def cell(figure: Figure | None) -> str:
    """A figure's value as the page shows it ("" when nothing was measured)."""
    value = number(figure.value) if figure is not None else None
    if value is None or figure is None:
        return ""
    if figure.unit == "rate":
        value *= 100
    text = str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return text.removesuffix(".0")


def safe(text: str) -> str:
    """A text cell Excel will not run as a formula (a name may start with = + - @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def header(figure: Figure, label: Labeller) -> tuple[str, str]:
    unit = UNITS.get(figure.unit, figure.unit)
    name = f"{label(figure.key)}（{unit}）" if unit else label(figure.key)
    return name, f"{name}·全所平均"


def scorecards_csv(period: Period, kind: str, cards: Sequence[Scorecard], label: Labeller) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    first = cards[0].figures if cards else ()
    columns = [name for figure in first for name in header(figure, label)]
    writer.writerow(["期间", "类别", "编号", "名称", *columns])
    for card in cards:
        values = [
            text
            for mine, station in zip(card.figures, card.station, strict=True)
            for text in (cell(mine), cell(station))
        ]
        row = [period.label, KINDS.get(kind, kind), safe(card.subject), safe(card.name)]
        writer.writerow([*row, *values])
    return out.getvalue().encode("utf-8-sig")
