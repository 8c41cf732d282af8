"""The outages of the repairs section on a crafted November 2026 (SQLite and PostgreSQL): the
notice commitment (conf/commitments.yml outage_notice: planned 7 days, temporary 1 day ahead),
the late notices and the cancelled outages, overall, per area, over time and drilled down;
every number worked out by hand below."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.config import Settings
from store.db import unit_of_work
from store.quality import Figure, Filters, Grain, Period
from tests.integration.quality.station import Station, at, built, section_figures

NOW = at("2026-12-01 10:00")
NOV = Period.parse("2026-11")
RATE, LATE, CANCELLED = (
    "repairs.notice_on_time_rate",
    "repairs.late_notices",
    "repairs.cancelled_outages",
)


def build(s: Station) -> None:
    urban, rural = s.area("U1", "城区", "urban"), s.area("R1", "乡村", "rural")
    # O1 planned, urban: told 8 days ahead (on time); restored after 8 h
    s.outage(urban, "2026-11-10 08:00", "2026-11-10 16:00", "planned", notice="2026-11-02 08:00")
    # O2 planned, rural: told 5 days ahead of its 7 (late)
    s.outage(rural, "2026-11-12 08:00", None, "planned", notice="2026-11-07 08:00")
    # O3 temporary, rural: told exactly 24 h ahead (on time); restored after 4 h
    s.outage(rural, "2026-11-15 09:00", "2026-11-15 13:00", "temporary",
             notice="2026-11-14 09:00")  # fmt: skip
    # O4 temporary, urban: told 12 h ahead (late)
    s.outage(urban, "2026-11-16 09:00", None, "temporary", notice="2026-11-15 21:00")
    # O5 planned, rural: first told late for an earlier start, then postponed: 15 days before
    # its final start, yet publishing judged it late, and late it stays
    s.outage(rural, "2026-11-25 08:00", None, "planned", notice="2026-11-10 08:00",
             notice_missed=True)  # fmt: skip
    # O6 planned, rural: never announced (late)
    s.outage(rural, "2026-11-20 08:00", None, "planned")
    # O7 a fault, urban: no notice commitment; restored after 3 h
    s.outage(urban, "2026-11-05 14:00", "2026-11-05 17:00", notice="2026-11-05 14:20")
    # O8 planned, rural, cancelled on 26 November: a cancelled outage, not an outage
    s.outage(rural, "2026-11-28 08:00", None, "planned", notice="2026-11-18 08:00",
             cancelled="2026-11-26 10:00")  # fmt: skip
    # O9 planned for December, urban, cancelled on 30 November: November's cancellation
    s.outage(urban, "2026-12-05 08:00", None, "planned", notice="2026-11-20 08:00",
             cancelled="2026-11-30 15:00")  # fmt: skip
    # O10 planned for November, urban, cancelled in October: nothing of November's
    s.outage(urban, "2026-11-08 08:00", None, "planned", notice="2026-10-20 08:00",
             cancelled="2026-10-30 10:00")  # fmt: skip
    # O11 planned for December, rural, announced in November: not begun, not November's
    s.outage(rural, "2026-12-03 08:00", None, "planned", notice="2026-11-20 08:00")


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return built(session_factory, build)


def figures(factory: sessionmaker[Session], filters: Filters | None = None) -> dict[str, Figure]:
    return section_figures(factory, "repairs", NOV, NOW, filters)


def test_the_commitment_is_the_one_publishing_warns_with(settings: Settings) -> None:
    """The hand-worked numbers below assume conf/commitments.yml's 7 days and 1 day."""
    c = settings.commitments
    assert (c.planned_notice_days, c.temporary_notice_days) == (7, 1)


def test_outages_notices_and_cancellations(factory: sessionmaker[Session]) -> None:
    f = figures(factory)
    assert f["repairs.outages"].value == 7  # O1-O7; O8-O10 cancelled, O11 not begun
    hours = f["repairs.outage_hours"]  # O1 8 h, O3 4 h, O7 3 h
    assert (hours.value, hours.denominator) == (pytest.approx(5.0), 3)
    rate = f[RATE]  # announced work O1-O6; on time O1 and O3
    assert (rate.numerator, rate.denominator) == (2, 6)
    assert rate.value == pytest.approx(2 / 6)
    assert (rate.target, rate.meets) == (1.0, False)
    assert f[LATE].value == 4  # O2 O4 O5 O6
    assert f[CANCELLED].value == 2  # O8 O9, by the day they were cancelled


def test_per_area_and_the_area_filter(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
        bottlenecks = quality.bottlenecks(snap)
    rows = {
        (b.key, r.label): (r.value, r.numerator, r.denominator)
        for b in snap.breakdowns
        if b.dimension == "area"
        for r in b.rows
    }
    assert rows[(RATE, "城区")] == (0.5, 1, 2)  # O1 on time, O4 late
    assert rows[(RATE, "乡村")] == (0.25, 1, 4)  # O3 on time; O2 O5 O6 late
    assert rows[(LATE, "城区")] == (1, None, 1)
    assert rows[(LATE, "乡村")] == (3, None, 3)
    assert rows[(CANCELLED, "城区")] == (1, None, 1)  # O9
    assert rows[(CANCELLED, "乡村")] == (1, None, 1)  # O8
    (neck,) = [b for b in bottlenecks if b.key == RATE]
    assert (neck.dimension, neck.label, neck.misses) == ("area", "乡村", 3)  # 3 of the 4 misses
    urban = figures(factory, Filters(area="U1"))
    assert urban["repairs.outages"].value == 3  # O1 O4 O7
    assert (urban[RATE].numerator, urban[RATE].denominator) == (1, 2)
    assert (urban[LATE].value, urban[CANCELLED].value) == (1, 1)


def test_drill_down_lists_the_outages_behind_each(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        notices, total = quality.drill(session, RATE, NOV, now=NOW)
        late, late_total = quality.drill(session, LATE, NOV, now=NOW)
        cancelled, cancelled_total = quality.drill(session, CANCELLED, NOV, now=NOW)
        _, outages_total = quality.drill(session, "repairs.outages", NOV, now=NOW)
        page, _ = quality.drill(session, RATE, NOV, now=NOW, limit=2, offset=3)
    assert (total, late_total, cancelled_total, outages_total) == (6, 4, 2, 7)
    # the misses first, newest first: O5 (25th), O6 (20th), O4 (16th), O2 (12th); then O3, O1
    assert [r.at for r in notices] == [
        at(t) for t in ("2026-11-25 08:00", "2026-11-20 08:00", "2026-11-16 09:00",
                        "2026-11-12 08:00", "2026-11-15 09:00", "2026-11-10 08:00")
    ]  # fmt: skip
    assert [r.meets for r in notices] == [False] * 4 + [True] * 2
    assert [r.value for r in notices] == [360.0, None, 12.0, 120.0, 24.0, 192.0]  # hours ahead
    assert notices[4].detail == {
        "area": "乡村",
        "type": "temporary",
        "state": "提前24.0小时通知（承诺提前24小时）",
    }
    assert notices[1].detail["state"] == "未发布通知（承诺提前168小时）"
    assert all(r.kind == "outage" for r in notices)
    assert [r.ref for r in late] == [r.ref for r in notices[:4]]
    assert [r.ref for r in page] == [r.ref for r in notices[3:5]]
    assert [r.at for r in cancelled] == [at("2026-11-30 15:00"), at("2026-11-26 10:00")]
    assert {r.detail["state"] for r in cancelled} == {"已取消"}


def test_series_is_the_snapshot_of_each_step(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        weeks = quality.series(session, RATE, NOV, Grain.WEEK, now=NOW)
        cancels = quality.series(session, CANCELLED, NOV, Grain.WEEK, now=NOW)
        months = quality.series(session, LATE, Period.parse("2026-Q4"), Grain.MONTH, now=NOW)
    # weeks from Monday: 1 Nov (clipped); 2-8; 9-15 O1 O2 O3; 16-22 O4 O6; 23-29 O5; 30
    assert [v for _, v in weeks] == [None, None, pytest.approx(2 / 3), 0.0, 0.0, None]
    assert [v for _, v in cancels] == [0, 0, 0, 0, 1, 1]  # O8 on the 26th, O9 on the 30th
    assert [v for _, v in months] == [0, 4, 0]  # October: O10 was cancelled, nothing late
