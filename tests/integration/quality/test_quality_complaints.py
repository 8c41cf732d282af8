"""Complaint and feedback figures on a crafted November 2026 (SQLite and PostgreSQL), worked out
by hand: contact within 24 h and reply within 5 working days (conf/commitments.yml), repeat
within 30 days and categories (conf/quality.yml)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.quality import Filters, Period
from tests.integration.quality.station import Station, at

NOW = at("2026-12-01 10:00")
NOV = Period.parse("2026-11")


def build(s: Station) -> None:
    urban, rural = s.area("U1", "城区", "urban"), s.area("R1", "乡村", "rural")
    first = s.account(urban)
    for _ in range(2):
        s.account(urban)
    s.account(rural)  # four accounts in all
    # C1 Mon 2 Nov 10:00: contacted after 5 h, replied Fri 6th (due Mon 9th): both on time
    s.ticket("complaint", "2026-11-02 10:00", [("assigned", "2026-11-02 11:00")], area=urban,
             account=first, description="抢修师傅态度差", contacted_at=at("2026-11-02 15:00"),
             replied_at=at("2026-11-06 10:00"))  # fmt: skip
    # C2 Tue 10 Nov, the same account again (repeat): contacted after 48 h (late), replied
    # Fri 20th (due Tue 17th: late), escalated
    s.ticket("complaint", "2026-11-10 10:00", [("escalated", "2026-11-18 10:00")], area=urban,
             account=first, description="电费太高了", contacted_at=at("2026-11-12 10:00"),
             replied_at=at("2026-11-20 10:00"), escalated=True)  # fmt: skip
    # C3 Wed 25 Nov: nobody called by Thu 26th 10:00 (late at NOW); its reply is due Wed 2 Dec
    # (not yet judged)
    s.ticket("complaint", "2026-11-25 10:00", area=rural, description="停电太频繁",
             contact_phone="13900000009")  # fmt: skip
    # C4: withdrawn; received, not judged
    s.ticket("complaint", "2026-11-26 10:00", [("cancelled", "2026-11-26 11:00")], area=rural,
             description="算了")  # fmt: skip
    # a suggestion and a praise, and a complaint in October
    s.ticket("suggestion", "2026-11-03 10:00", area=urban, description="停电通知请发短信")
    s.ticket("praise", "2026-11-04 10:00", area=urban, description="抢修师傅很及时")
    s.ticket("complaint", "2026-10-30 10:00", area=urban, account=first, description="x")


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    with unit_of_work(session_factory) as session:
        build(Station(session))
    return session_factory


def test_complaint_figures(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    f = {x.key: x for x in snap.figures if x.section == "complaints"}
    assert f["complaints.count"].value == 4
    per_10k = f["complaints.per_10k"]
    assert per_10k.value == pytest.approx(4 * 10000 / 4)  # 4 complaints, 4 accounts
    assert per_10k.target == 1.0
    assert per_10k.meets is False
    # C1 repeats the October complaint of the same account, C2 repeats C1
    assert (f["complaints.repeat_rate"].numerator, f["complaints.repeat_rate"].denominator) == (
        2, 4,
    )  # fmt: skip
    contact = f["complaints.contact_rate"]
    assert (contact.numerator, contact.denominator) == (1, 3)  # C1 on time; C2, C3 late
    reply = f["complaints.reply_rate"]
    assert (reply.numerator, reply.denominator) == (1, 2)  # C1 on time, C2 late
    escalated = f["complaints.escalation_rate"]
    assert (escalated.numerator, escalated.denominator) == (1, 4)
    assert f["complaints.suggestions"].value == 1
    assert f["complaints.praise"].value == 1


def test_categories_and_themes(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    counts = {
        (b.key, r.label): r.denominator
        for b in snap.breakdowns
        if b.dimension == "category"
        for r in b.rows
    }
    assert counts[("complaints.count", "抢修服务")] == 1
    assert counts[("complaints.count", "电费计量")] == 1
    assert counts[("complaints.count", "停电问题")] == 1
    assert counts[("complaints.count", "其他")] == 1
    assert counts[("complaints.suggestions", "停电通知")] == 1
    assert counts[("complaints.praise", "抢修人员")] == 1


def test_area_filter_and_quarter_target(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        rural = quality.snapshot(session, NOV, Filters(area="R1"), now=NOW)
        quarter = quality.snapshot(session, Period.parse("2026-Q4"), now=NOW)
    assert rural.figure("complaints.count").value == 2  # C3 C4
    assert rural.figure("complaints.per_10k").value == pytest.approx(2 * 10000 / 1)
    assert quarter.figure("complaints.per_10k").target == pytest.approx(3.0)  # 1.0 x 3 months
    assert quarter.figure("complaints.count").value == 5


def test_drill(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        rows, total = quality.drill(session, "complaints.contact_rate", NOV, now=NOW)
    assert total == 3
    assert [r.meets for r in rows] == [False, False, True]
    assert rows[0].kind == "feedback"
    assert rows[0].at == at("2026-11-25 10:00")
