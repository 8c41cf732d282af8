"""Bottleneck sentences from a crafted snapshot (conf/quality.yml: a slice holding at least 30%
and 3 of a missed figure's misses, at most 3 per figure, biggest share first)."""

from __future__ import annotations

from store import quality
from store.quality import Better, Breakdown, BreakdownRow, Figure, Filters, Period, Snapshot
from store.quality.bottlenecks import misses

NOV = Period.parse("2026-11")


def _snapshot(figures: list[Figure], breakdowns: list[Breakdown]) -> Snapshot:
    return Snapshot(NOV, Filters(), tuple(figures), tuple(breakdowns))


ARRIVAL = Figure("repairs.arrival_on_time_rate", "repairs", 28 / 40, "rate", 0.95,
                 Better.HIGHER, 28, 40)  # fmt: skip
# 12 late arrivals: 8 by 第二抢修班, 3 by 第一抢修班, 1 unassigned; by hour 5 at 20-22时
CREWS = Breakdown("repairs.arrival_on_time_rate", "crew", (
    BreakdownRow("第二抢修班", 10 / 18, 10, 18, "第二抢修班"),
    BreakdownRow("第一抢修班", 17 / 20, 17, 20, "第一抢修班"),
    BreakdownRow("未派班组", 1 / 2, 1, 2, "no crew"),
))  # fmt: skip
HOURS = Breakdown("repairs.arrival_on_time_rate", "hour", (
    BreakdownRow("20-22时", 0 / 5, 0, 5, "20:00-22:00"),
    BreakdownRow("8-10时", 28 / 35, 28, 35, "08:00-10:00"),
))  # fmt: skip


def test_misses_by_kind_of_figure() -> None:
    assert misses("rate", Better.HIGHER, 28, 40) == 12
    assert misses("rate", Better.LOWER, 3, 40) == 3
    assert misses("minutes", Better.LOWER, 7, 30) == 7  # a mean's items over commitment
    assert misses("rate", Better.HIGHER, None, None) == 0


def test_sentences_for_a_missed_figure() -> None:
    found = quality.bottlenecks(_snapshot([ARRIVAL], [CREWS, HOURS]))
    assert [(b.dimension, b.label, b.misses) for b in found] == [
        ("crew", "第二抢修班", 8), ("hour", "8-10时", 7), ("hour", "20-22时", 5),
    ]  # fmt: skip
    crew = found[0]
    assert crew.share == 8 / 12
    assert crew.sentence_zh == "到达超时集中在班组“第二抢修班”（12次中的8次，67%）"
    assert crew.sentence_en == "Late arrivals concentrate in crew 第二抢修班 (8 of 12, 67%)"
    assert found[2].sentence_en == "Late arrivals concentrate in hours 20:00-22:00 (5 of 12, 42%)"


def test_no_sentence_for_a_met_figure_or_a_thin_slice() -> None:
    met = Figure("repairs.arrival_on_time_rate", "repairs", 0.97, "rate", 0.95, Better.HIGHER,
                 97, 100)  # fmt: skip
    assert quality.bottlenecks(_snapshot([met], [CREWS])) == []
    # 第一抢修班 holds 3 of 12 (25%): under the share; 未派班组 1: under the count
    found = quality.bottlenecks(_snapshot([ARRIVAL], [CREWS]))
    assert [b.label for b in found] == ["第二抢修班"]


def test_lower_is_better_and_complaints_per_10k() -> None:
    repeat = Figure("repairs.repeat_fault_rate", "repairs", 6 / 50, "rate", 0.05, Better.LOWER,
                    6, 50)  # fmt: skip
    areas = Breakdown("repairs.repeat_fault_rate", "area", (
        BreakdownRow("东山村", 5 / 10, 5, 10, "Dongshan Village"),
        BreakdownRow("西河村", 1 / 40, 1, 40, "Xihe Village"),
    ))  # fmt: skip
    per_10k = Figure("complaints.per_10k", "complaints", 30.0, "per_10k", 1.0, Better.LOWER,
                     9, 3000)  # fmt: skip
    categories = Breakdown("complaints.count", "category", (
        BreakdownRow("电费计量", 6, None, 6, "bills and meters"),
        BreakdownRow("其他", 3, None, 3, "other"),
    ))  # fmt: skip
    found = quality.bottlenecks(_snapshot([repeat, per_10k], [areas, categories]))
    assert [b.sentence_zh for b in found] == [
        "重复故障集中在片区“东山村”（6次中的5次，83%）",
        "投诉集中在类别“电费计量”（9次中的6次，67%）",
        "投诉集中在类别“其他”（9次中的3次，33%）",
    ]
    assert (
        found[0].sentence_en == "Repeat faults concentrate in area Dongshan Village (5 of 6, 83%)"
    )
