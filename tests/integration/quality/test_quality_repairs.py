"""Repair figures on a crafted November 2026 (SQLite and PostgreSQL), every number worked out by
hand from conf/commitments.yml: urban arrival 45 min / restoration 3 h, rural 90 min / 4 h."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.quality import Figure, Filters, Grain, Period
from tests.integration.quality.station import Station, at, built, section_figures

NOW = at("2026-12-01 10:00")
NOV = Period.parse("2026-11")


def build(s: Station) -> None:
    urban, rural = s.area("U1", "城区", "urban"), s.area("R1", "乡村", "rural")
    c1, c2 = s.crew("一班"), s.crew("二班")
    home = s.account(rural)
    s.account(urban)
    # T1 urban: arrives after 30 min (on time), restored 1.5 h later (on time), callback done
    s.ticket("fault", "2026-11-02 09:00", [("on_site", "2026-11-02 09:30"),
             ("restored", "2026-11-02 11:00"), ("closed", "2026-11-02 12:00")],
             area=urban, crew=c1, description="停电了", callback_result="satisfied")  # fmt: skip
    # T2 urban, 20:00: arrives after 60 min (late), restored 2.5 h later (on time), no callback
    s.ticket("fault", "2026-11-03 20:00", [("on_site", "2026-11-03 21:00"),
             ("restored", "2026-11-03 23:30")], area=urban, crew=c1,
             description="跳闸了")  # fmt: skip
    # T3 rural, account `home`: 60 min (on time), restored after 5 h (late)
    s.ticket("fault", "2026-11-04 10:00", [("on_site", "2026-11-04 11:00"),
             ("restored", "2026-11-04 16:00")], area=rural, crew=c2, account=home)  # fmt: skip
    # T4 rural, the same account 6 days later (a repeat fault): 120 min (late), 1 h (on time),
    # the callback went unanswered (not done)
    s.ticket("fault", "2026-11-10 10:00", [("on_site", "2026-11-10 12:00"),
             ("restored", "2026-11-10 13:00"), ("awaiting_callback", "2026-11-11 10:00")],
             area=rural, crew=c2, account=home, description="电压低",
             callback_result=None)  # fmt: skip
    # T5 urban: nobody came; its 45 minutes passed long before NOW (late before recorded)
    s.ticket("fault", "2026-11-20 08:00", [("dispatched", "2026-11-20 08:05")], area=urban,
             crew=c1)  # fmt: skip
    # T6 rural: merged into a known outage (counted as the outage, not as a repair)
    outage = s.outage(rural, "2026-11-05 08:00", "2026-11-05 11:00")
    s.ticket("fault", "2026-11-05 08:30", [("merged", "2026-11-05 08:31")], area=rural,
             outage_id=outage.id)  # fmt: skip
    # T7 urban: cancelled before anyone went (a repair received, but no arrival to judge)
    s.ticket("fault", "2026-11-06 09:00", [("cancelled", "2026-11-06 09:10")], area=urban)
    # T8 rural: arrives after 40 min and again later (reopened): the first arrival and the
    # first restoration (1 h 20 min after it) count
    s.ticket("fault", "2026-11-12 10:00", [("on_site", "2026-11-12 10:40"),
             ("restored", "2026-11-12 12:00"), ("on_site", "2026-11-12 15:00"),
             ("restored", "2026-11-12 16:00")], area=rural, crew=c2)  # fmt: skip
    # T9 urban, 00:30 on 1 November station time (still 31 October in UTC): in November;
    # 30 min, restored 1 h later, callback answered (dissatisfied: done all the same)
    s.ticket("fault", "2026-11-01 00:30", [("on_site", "2026-11-01 01:00"),
             ("restored", "2026-11-01 02:00")], area=urban, crew=c2,
             callback_result="dissatisfied")  # fmt: skip
    # T10: 00:10 on 1 December station time (30 November in UTC): not November
    s.ticket("fault", "2026-12-01 00:10", [("on_site", "2026-12-01 00:20")], area=urban)
    # outages: one restored after 3 h, one still on, one planned for later (not yet)
    s.outage(urban, "2026-11-20 09:00", None)
    s.outage(urban, "2026-12-03 09:00", "2026-12-03 12:00", kind="planned")
    # a complaint is no repair
    s.ticket("complaint", "2026-11-07 09:00", area=urban)


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return built(session_factory, build)


def figures(factory: sessionmaker[Session], filters: Filters | None = None) -> dict[str, Figure]:
    return section_figures(factory, "repairs", NOV, NOW, filters)


def test_counts_once(factory: sessionmaker[Session]) -> None:
    f = figures(factory)
    assert f["repairs.tickets"].value == 8  # T1-T5, T7, T8, T9 (T6 merged, T10 December)
    assert f["repairs.merged_reports"].value == 1
    assert f["repairs.outages"].value == 2  # the planned one has not begun at NOW
    assert f["repairs.outage_hours"].value == pytest.approx(3.0)  # only the restored one


def test_arrival(factory: sessionmaker[Session]) -> None:
    f = figures(factory)
    mean = f["repairs.arrival_minutes"]
    # arrived: 30 + 60 + 60 + 120 + 40 + 30 = 340 over 6; commitments 45+45+90+90+90+45 = 405
    assert mean.value == pytest.approx(340 / 6)
    assert mean.target == pytest.approx(405 / 6)
    assert (mean.numerator, mean.denominator, mean.meets) == (2, 6, True)
    rate = f["repairs.arrival_on_time_rate"]
    # on time T1 T3 T8 T9; late T2 T4, and T5 unrecorded past its deadline; T7 not judged
    assert (rate.numerator, rate.denominator) == (4, 7)
    assert rate.value == pytest.approx(4 / 7)
    assert rate.target == 0.95
    assert rate.meets is False


def test_restoration(factory: sessionmaker[Session]) -> None:
    f = figures(factory)
    mean = f["repairs.restoration_hours"]
    # 1.5 + 2.5 + 5 + 1 + 4/3 + 1 over 6; commitments 3+3+4+4+4+3 = 21
    assert mean.value == pytest.approx((1.5 + 2.5 + 5 + 1 + 4 / 3 + 1) / 6)
    assert mean.target == pytest.approx(21 / 6)
    rate = f["repairs.restoration_on_time_rate"]
    assert (rate.numerator, rate.denominator) == (5, 6)  # T3 took 5 h of its 4


def test_repeat_and_callback(factory: sessionmaker[Session]) -> None:
    f = figures(factory)
    repeat = f["repairs.repeat_fault_rate"]
    assert (repeat.numerator, repeat.denominator) == (1, 8)  # T4 after T3 at the same account
    callback = f["repairs.callback_rate"]
    assert (callback.numerator, callback.denominator) == (2, 6)  # T1 and T9 of 6 restored


def test_breakdowns(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    rows = {
        (b.key, b.dimension, r.label): (r.numerator, r.denominator)
        for b in snap.breakdowns
        for r in b.rows
    }
    key = "repairs.arrival_on_time_rate"
    assert rows[(key, "crew", "一班")] == (1, 3)  # T1 on time, T2 late, T5 unrecorded
    assert rows[(key, "crew", "二班")] == (3, 4)  # T3 T8 T9 on time, T4 late
    assert rows[(key, "area", "乡村")] == (2, 3)
    assert rows[(key, "hour", "20-22时")] == (0, 1)  # T2 came in at 20:00
    assert rows[(key, "fault_type", "停电")] == (4, 5)  # T1 T3 T5 T8 T9 ("停电了"): T5 late
    assert rows[(key, "fault_type", "电压异常")] == (0, 1)  # T4 "电压低"
    assert rows[("repairs.tickets", "fault_type", "跳闸")] == (None, 1)


def test_filters(factory: sessionmaker[Session]) -> None:
    urban = figures(factory, Filters(area="U1"))
    assert urban["repairs.tickets"].value == 5  # T1 T2 T5 T7 T9
    assert urban["repairs.outages"].value == 1
    with unit_of_work(factory) as session:
        cards = quality.scorecards(session, NOV, "crew", now=NOW)
    crew_id = next(c.subject for c in cards if c.name == "二班")
    second = figures(factory, Filters(crew_id=int(crew_id)))
    assert second["repairs.arrival_on_time_rate"].denominator == 4
    with unit_of_work(factory) as session, pytest.raises(ValueError, match="unknown area"):
        quality.snapshot(session, NOV, Filters(area="nowhere"), now=NOW)


def test_an_unrecorded_arrival_counts_only_once_its_deadline_passed(
    factory: sessionmaker[Session],
) -> None:
    """At 08:40 on 20 November T5's 45 minutes (due 08:45) have not passed: not judged yet."""
    with unit_of_work(factory) as session:
        early = quality.snapshot(session, NOV, now=at("2026-11-20 08:40"))
    rate = early.figure("repairs.arrival_on_time_rate")
    assert rate.denominator == 6


def test_drill_down_lists_the_items_behind_the_figure(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        rows, total = quality.drill(session, "repairs.arrival_on_time_rate", NOV, now=NOW)
        page, _ = quality.drill(session, "repairs.arrival_on_time_rate", NOV, now=NOW,
                                limit=2, offset=1)  # fmt: skip
    assert total == 7  # the figure's denominator
    assert [r.meets for r in rows] == [False] * 3 + [True] * 4  # the misses first
    assert [r.at for r in rows[:3]] == [
        at("2026-11-20 08:00"),
        at("2026-11-10 10:00"),
        at("2026-11-03 20:00"),
    ]  # newest miss first: T5, T4, T2
    assert rows[1].value == pytest.approx(120.0)
    assert rows[0].value is None
    assert rows[0].kind == "ticket"
    assert rows[0].detail["crew"] == "一班"
    assert [r.ref for r in page] == [r.ref for r in rows[1:3]]


def test_series_is_the_snapshot_of_each_step(factory: sessionmaker[Session]) -> None:
    key = "repairs.arrival_on_time_rate"
    with unit_of_work(factory) as session:
        weeks = quality.series(session, key, NOV, Grain.WEEK, now=NOW)
        months = quality.series(session, key, Period.parse("2026-Q4"), Grain.MONTH, now=NOW)
    # weeks from Monday: 1 Nov (a Sunday, clipped) T9; 2-8 Nov T1 T2 T3; 9-15 T4 T8; 16-22 T5
    assert [d.isoformat() for d, _ in weeks] == [
        "2026-11-01", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30",
    ]  # fmt: skip
    assert [v for _, v in weeks] == [1.0, pytest.approx(2 / 3), 0.5, 0.0, None, None]
    assert months[1][1] == pytest.approx(4 / 7)  # November: the snapshot's value
    assert months[0][1] is None  # no repair in October
    assert months[2][1] == 1.0  # December so far: T10, 10 minutes


def test_figures_without_breakdowns_are_the_same(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        full = quality.snapshot(session, NOV, now=NOW)
        bare = quality.snapshot(session, NOV, now=NOW, breakdowns=False)
    # the same figures (sums in another order: equal to the last bits)
    assert [(f.key, f.numerator, f.denominator, f.meets) for f in bare.figures] == [
        (f.key, f.numerator, f.denominator, f.meets) for f in full.figures
    ]
    assert [f.value for f in bare.figures] == [
        None if f.value is None else pytest.approx(f.value) for f in full.figures
    ]
    assert bare.breakdowns == ()
    assert full.breakdowns
