"""Known outages: what is affecting an area now, what is planned, and restoration."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.services import areas, outages, tickets


def _area_id(session: Session, name: str) -> int:
    area = areas.match_area(session, name)
    assert area is not None
    return area.id


def test_current_fault_in_xihe(
    seeded: DemoSummary, session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        outage = outages.active_for_area(session, _area_id(session, "西河村"), now)
        assert outage is not None
        assert outage.kind == "fault"
        assert "10kV" in outage.cause
        assert outage.expected_restore_at == now + timedelta(hours=3)
        assert outages.get_by_no(session, outage.outage_no.lower()) is outage
        assert outages.active_for_area(session, _area_id(session, "东山村"), now) is None


def test_planned_outage_in_nantang(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        nantang = _area_id(session, "南塘村")
        assert outages.active_for_area(session, nantang, now) is None
        upcoming = outages.list_current_and_planned(session, now, area_id=nantang)
        assert len(upcoming) == 1
        planned = upcoming[0]
        assert planned.kind == "planned"
        assert (
            planned.starts_at.astimezone(settings.tz).date()
            == (now + timedelta(days=3)).astimezone(settings.tz).date()
        )
        assert planned.notice_at is not None
        assert planned.starts_at - planned.notice_at >= timedelta(days=7)
        during = planned.starts_at + timedelta(hours=1)
        assert outages.active_for_area(session, nantang, during) is planned
        assert planned.expected_restore_at is not None
        assert outages.active_for_area(session, nantang, planned.expected_restore_at) is None


def test_list_for_the_whole_township(
    seeded: DemoSummary, session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        found = outages.list_current_and_planned(session, now)
        assert [(o.kind, o.area.name) for o in found] == [
            ("fault", "西河村"),
            ("planned", "南塘村"),
        ]
        soon = outages.list_current_and_planned(session, now, horizon_days=2)
        assert [o.kind for o in soon] == ["fault"]


def test_restoration_moves_merged_tickets(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        outage = outages.active_for_area(session, _area_id(session, "西河村"), now)
        assert outage is not None
        later = now + timedelta(hours=2)
        restored = outages.mark_restored(session, outage, now=later)
        assert len(restored) == 3  # the demo's merged reports
        assert {t.status for t in restored} == {"restored"}
        assert outage.restored_at == later
        assert outages.active_for_area(session, outage.area_id, later) is None
        view = tickets.describe(session, settings, restored[0], later)
        assert view.status_label.zh == "已恢复送电"
