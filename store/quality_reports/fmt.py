"""How a report writes a figure's value and its change, by unit: one place for the HTML, the
PDF (made from that HTML) and the display column of the CSV and XLSX, so they read alike."""

from __future__ import annotations

from typing import Final

from store.quality import Figure
from store.quality_reports.content import Direction

NONE: Final = "—"
"""nothing to measure in the period"""
_UNITS: Final = {
    "minutes": "分钟",
    "hours": "小时",
    "working_days": "个工作日",
    "per_10k": "件/万户",
    "count": "",
}
DIRECTION_WORDS: Final = {
    Direction.BETTER: "改善",
    Direction.WORSE: "变差",
    Direction.STEADY: "持平",
}
STATUS_WORDS: Final = {
    "planned": "计划中",
    "in_progress": "进行中",
    "done": "已完成",
    "dropped": "已取消",
}


def _write(number: float | None, unit: str, sign: str) -> str:
    if number is None:
        return NONE
    if unit == "rate":  # a value as a percentage, a change in percentage points
        return f"{number * 100:{sign}.1f}" + (" 个百分点" if sign else "%")
    if unit == "count":
        return f"{number:{sign}.0f}"
    digits = 2 if unit == "per_10k" else 1
    return f"{number:{sign}.{digits}f} {_UNITS.get(unit, unit)}".rstrip()


def value(number: float | None, unit: str) -> str:
    """93.5%, 52.3 分钟, 4.1 个工作日, 12, 2.35 件/万户; — for no value."""
    return _write(number, unit, "")


def change(delta: float | None, unit: str) -> str:
    """+2.1 个百分点, -5.0 分钟, +3; — for no change to tell."""
    return _write(delta, unit, "+")


def share(part: float | None) -> str:
    """A plain share (of misses, of the way to a target): 67%."""
    return NONE if part is None else f"{part * 100:.0f}%"


def direction(moved: Direction | None) -> str:
    return NONE if moved is None else DIRECTION_WORDS[moved]


def status(code: str) -> str:
    return STATUS_WORDS.get(code, code)


def verdict(figure: Figure) -> str:
    """达标 / 未达标; 无目标 for a figure without one; — when nothing was measured."""
    if figure.target is None:
        return "无目标"
    if figure.meets is None:
        return NONE
    return "达标" if figure.meets else "未达标"
