"""Where the misses of each missed figure concentrate, from the snapshot's own breakdowns, said in
plain Chinese and English (conf/quality.yml `bottlenecks`).

A miss is one item that fell short: for a rate where higher is better, the items outside the
numerator (late arrivals of the on-time rate); for a rate where lower is better, the items of
the numerator (repeat faults); for a mean or a percentile, the items over their commitment or
the target (store/quality/figures.py). A slice is a bottleneck when it holds at least
`min_share` of the figure's misses and at least `min_misses` of them; the biggest shares
first, at most `per_figure` per figure.
"""

from __future__ import annotations

from store.configuration.quality import Quality
from store.quality.types import Better, Bottleneck, Breakdown, BreakdownRow, Figure, Snapshot


def misses(unit: str, better: Better, numerator: int | None, denominator: int | None) -> int:
    """The items that fell short, from a figure's or a slice's numerator and denominator."""
    num, den = numerator or 0, denominator or 0
    if unit == "rate" and better is Better.HIGHER:
        return max(0, den - num)
    return num


_BROKEN_DOWN_AS = {"complaints.per_10k": "complaints.count"}
"""A figure whose misses are the items of another figure's breakdowns (every complaint counts
against the complaints per 10,000 accounts)."""


def _row_misses(fig: Figure, row: BreakdownRow) -> int:
    if fig.key in _BROKEN_DOWN_AS:
        return row.denominator or 0
    return misses(fig.unit, fig.better, row.numerator, row.denominator)


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%"


def _bottleneck(
    quality: Quality, fig: Figure, breakdown: Breakdown, row: BreakdownRow, total: int
) -> Bottleneck | None:
    rules = quality.bottlenecks
    missed = _row_misses(fig, row)
    if missed < rules.min_misses or missed / total < rules.min_share:
        return None
    miss = rules.misses.get(fig.key)
    dimension = rules.dimensions.get(breakdown.dimension)
    if miss is None or dimension is None:
        return None
    share = _share(missed, total)
    values = {"misses": missed, "total": total, "share": share}
    zh = rules.sentence.zh.format(miss=miss.zh, dimension=dimension.zh, label=row.label, **values)
    en = rules.sentence.en.format(
        miss=miss.en, dimension=dimension.en, label=row.label_en or row.label, **values
    )
    return Bottleneck(fig.key, breakdown.dimension, row.label, missed, missed / total, zh, en)


def find(quality: Quality, snap: Snapshot) -> list[Bottleneck]:
    """For each missed figure of the snapshot, its bottlenecks (figures in display order)."""
    found: list[Bottleneck] = []
    for fig in snap.figures:
        if fig.meets is not False:
            continue
        total = misses(fig.unit, fig.better, fig.numerator, fig.denominator)
        if total <= 0:
            continue
        mine = [
            b
            for breakdown in snap.breakdowns
            if breakdown.key == _BROKEN_DOWN_AS.get(fig.key, fig.key)
            for row in breakdown.rows
            if (b := _bottleneck(quality, fig, breakdown, row, total)) is not None
        ]
        mine.sort(key=lambda b: (-b.share, -b.misses, b.dimension, b.label))
        found += mine[: quality.bottlenecks.per_figure]
    return found
