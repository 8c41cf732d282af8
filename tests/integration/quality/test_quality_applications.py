"""Application figures on a crafted November 2026 (SQLite and PostgreSQL), worked out by hand.

Name transfers and other changes: 5 working days end to end; stages received 1, reviewing 2,
contract / processing 2 working days (conf/applications.yml). November 2026 has no public
holiday: its working days are Monday to Friday. A working day counts by the part of each
working day it covers (Monday 09:00 to Friday 09:00 is 4.0)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.quality import Period
from tests.integration.quality.station import Station, at

NOW = at("2026-12-01 10:00")
NOV = Period.parse("2026-11")
H = 1 / 24  # an hour of a working day


def build(s: Station) -> None:
    area = s.area("U1", "城区", "urban")
    # P1: Mon 2 Nov 09:00 → Fri 6 Nov 09:00 = 4.0 working days, on time (due Mon 9 Nov)
    #   received 6 h (0.25, on time); reviewing Mon 15:00 → Thu 15:00 = 3.0 (due Wed 15:00:
    #   late); contract Thu 15:00 → Fri 09:00 = 0.75 (on time)
    s.application("name_transfer", [
        ("received", "2026-11-02 09:00", "2026-11-03 09:00"),
        ("reviewing", "2026-11-02 15:00", "2026-11-04 15:00"),
        ("contract", "2026-11-05 15:00", "2026-11-09 15:00"),
        ("completed", "2026-11-06 09:00", None),
    ], due="2026-11-09 09:00", area=area)  # fmt: skip
    # P2: sent back for documents Fri 6 Nov 10:00 → Tue 10 Nov 10:00 (2.0 working days
    #   waiting, not the station's); Fri 09:00 → Thu 12 Nov 11:00 = 0.625 + 3 + 11/24;
    #   station time 4.0833 - 2.0 = 2.0833; stays: received 1 h, received again 1 h,
    #   reviewing 1.0, contract 1.0, all on time
    s.application("name_transfer", [
        ("received", "2026-11-06 09:00", "2026-11-09 09:00"),
        ("need_more_docs", "2026-11-06 10:00", None),
        ("received", "2026-11-10 10:00", "2026-11-11 10:00"),
        ("reviewing", "2026-11-10 11:00", "2026-11-12 11:00"),
        ("contract", "2026-11-11 11:00", "2026-11-13 11:00"),
        ("completed", "2026-11-12 11:00", None),
    ], due="2026-11-17 09:00", area=area)  # fmt: skip
    # P3: open at reviewing since Mon 16 Nov 10:00 (stage due Wed 18th), due Mon 23rd: both
    #   passed at NOW (late before they finish); its received stay: 1 h, on time
    s.application("other_change", [
        ("received", "2026-11-16 09:00", "2026-11-17 09:00"),
        ("reviewing", "2026-11-16 10:00", "2026-11-18 10:00"),
    ], due="2026-11-23 09:00", area=area)  # fmt: skip
    # P4: started Wed 28 Oct, completed Tue 3 Nov: completed in November (not received in it);
    #   Wed 09:00 → Tue 10:00 = 0.625 + 1 + 1 + 1 + 10/24 = 4.0417, on time (due Wed 4 Nov);
    #   its contract stay Thu 29 Oct 10:00 → Tue 3 Nov 10:00 = 3.0 against 2 (late) ended in
    #   November; the earlier stays ended in October
    s.application("name_transfer", [
        ("received", "2026-10-28 09:00", "2026-10-29 09:00"),
        ("reviewing", "2026-10-28 10:00", "2026-10-30 10:00"),
        ("contract", "2026-10-29 10:00", "2026-11-02 10:00"),
        ("completed", "2026-11-03 10:00", None),
    ], due="2026-11-04 09:00", area=area)  # fmt: skip
    # P5: withdrawn after an hour: received, not completed; its received stay 1 h, on time
    s.application("other_change", [
        ("received", "2026-11-20 09:00", "2026-11-23 09:00"),
        ("cancelled", "2026-11-20 10:00", None),
    ], due="2026-11-27 09:00", area=area)  # fmt: skip


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    with unit_of_work(session_factory) as session:
        build(Station(session))
    return session_factory


def test_application_figures(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    f = {x.key: x for x in snap.figures if x.section == "applications"}
    assert f["applications.received"].value == 4  # P1 P2 P3 P5
    assert f["applications.completed"].value == 3  # P1 P2 P4
    e2e = f["applications.end_to_end_days"]
    assert e2e.value == pytest.approx((4.0 + (0.625 + 3 + 11 * H - 2.0) + (3.625 + 10 * H)) / 3)
    assert e2e.target == 5.0
    assert e2e.meets is True
    on_time = f["applications.on_time_rate"]
    assert (on_time.numerator, on_time.denominator) == (3, 4)  # P3 open past its deadline
    first = f["applications.first_time_rate"]
    assert (first.numerator, first.denominator) == (2, 3)  # P2 was sent back


def test_stage_figures(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    # stays ended in November: P1 0.25 ✓ 3.0 ✗ 0.75 ✓; P2 1h ✓ 1h ✓ 1.0 ✓ 1.0 ✓; P3 1h ✓;
    # P4 contract 3.0 ✗; P5 1h ✓ -> 10 stays, 8 on time; P3's reviewing is open and late
    days = snap.figure("applications.stage_days")
    worked = 0.25 + 3.0 + 0.75 + H + H + 1.0 + 1.0 + H + 3.0 + H
    assert days.value == pytest.approx(worked / 10)
    assert days.target == pytest.approx((1 + 2 + 2 + 1 + 1 + 2 + 2 + 1 + 2 + 1) / 10)
    assert (days.numerator, days.denominator) == (2, 10)
    rate = snap.figure("applications.stage_on_time_rate")
    assert (rate.numerator, rate.denominator) == (8, 11)
    by_stage = {
        r.label: (r.numerator, r.denominator)
        for b in snap.breakdowns
        if b.key == "applications.stage_on_time_rate"
        for r in b.rows
    }
    # the slowest stage shows: reviewing (资料审核中, conf/labels.yml) of each type
    assert by_stage["过户（更名）·资料审核中"] == (1, 2)  # P1 late, P2 on time
    assert by_stage["变更用电·资料审核中"] == (0, 1)  # P3 open past its limit
    assert by_stage["过户（更名）·签订合同"] == (2, 3)  # P1 P2 on time, P4 late
    assert sum(d for _, d in by_stage.values()) == 11


def test_breakdown_by_type_and_drill(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
        rows, total = quality.drill(session, "applications.on_time_rate", NOV, now=NOW)
    by_type = {
        r.label: (r.numerator, r.denominator)
        for b in snap.breakdowns
        if (b.key, b.dimension) == ("applications.on_time_rate", "type")
        for r in b.rows
    }
    assert by_type == {"过户（更名）": (3, 3), "变更用电": (0, 1)}
    assert total == 4
    assert rows[0].meets is False
    assert rows[0].detail["state"] == "open"
    assert all(r.kind == "application" and r.ref.startswith("A") for r in rows)
