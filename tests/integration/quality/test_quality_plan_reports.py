"""The improvement plan's measures and the stored reports (SQLite and PostgreSQL): create, edit,
list and delete measures with every value checked; store, find and list reports, one scheduled
report per kind and period."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.services import quality_plan, quality_reports
from store.services.quality_plan import MeasureChanges, PlanError
from store.services.quality_reports import SCHEDULE, ReportExists, ReportFiles
from tests.integration.quality.station import Station, at

NOW = at("2026-12-01 10:00")


def _measure(session: Session, **changes: object) -> quality_plan.QualityMeasure:
    values: dict[str, object] = {
        "title": "抢修一班增配车辆", "figure_key": "repairs.arrival_on_time_rate",
        "owner": "chief", "due_date": date(2027, 3, 31), "actor": "chief", "now": NOW,
        "baseline": 0.82, "target": 0.95,
    }  # fmt: skip
    values.update(changes)
    return quality_plan.create_measure(session, **values)  # type: ignore[arg-type]


def test_measures(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        Station(session).staff("chief", "manager")
        Station(session).staff("clerk1", "clerk")
        first = _measure(session)
        _measure(session, title="营业厅增开周六窗口", figure_key="agent.csat",
                 due_date=date(2027, 1, 31), owner="clerk1", status="in_progress")  # fmt: skip
        first_id = first.id
    with unit_of_work(session_factory) as session:
        titles = [m.title for m in quality_plan.list_measures(session)]
        assert titles == ["营业厅增开周六窗口", "抢修一班增配车辆"]  # soonest due first
        assert [m.title for m in quality_plan.list_measures(session, owner="chief")] == [
            "抢修一班增配车辆"
        ]
        found = quality_plan.get_measure(session, first_id)
        assert found is not None
        later = at("2026-12-02 09:00")
        quality_plan.update_measure(
            session, found, MeasureChanges(status="done", notes="已落实", clear_baseline=True),
            now=later,
        )  # fmt: skip
        assert (found.status, found.notes, found.baseline, found.target) == (
            "done", "已落实", None, 0.95,
        )  # fmt: skip
        assert found.updated_at == later
        assert found.created_at == NOW
        quality_plan.delete_measure(session, found)
    with unit_of_work(session_factory) as session:
        assert len(quality_plan.list_measures(session)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": " "}, "title"),
        ({"figure_key": "repairs.speed"}, "unknown figure"),
        ({"owner": "nobody"}, "unknown staff"),
        ({"status": "finished"}, "status"),
        ({"baseline": float("nan")}, "baseline"),
    ],
)
def test_measures_refuse_wrong_values(
    session_factory: sessionmaker[Session], changes: dict[str, object], message: str
) -> None:
    with unit_of_work(session_factory) as session:
        Station(session).staff("chief", "manager")
        with pytest.raises(PlanError, match=message):
            _measure(session, **changes)


def test_reports(session_factory: sessionmaker[Session]) -> None:
    files = ReportFiles(html="<h1>2026年11月</h1>", pdf=b"%PDF", csv=b"key,value", xlsx=b"PK")
    with unit_of_work(session_factory) as session:
        store = quality_reports.store_report
        store(session, kind="monthly", period_label="2026-11", files=files,
              generated_by=SCHEDULE, now=NOW)  # fmt: skip
        store(session, kind="monthly", period_label="2026-11", files=files,
              generated_by="chief", now=at("2026-12-02 09:00"))  # fmt: skip
        store(session, kind="annual", period_label="2025", files=files, generated_by=SCHEDULE,
              now=at("2026-01-01 01:00"))  # fmt: skip
        with pytest.raises(ReportExists):
            store(session, kind="monthly", period_label="2026-11", files=files,
                  generated_by=SCHEDULE, now=NOW)  # fmt: skip
        with pytest.raises(ValueError, match="kind"):
            store(session, kind="weekly", period_label="2026-W1", files=files,
                  generated_by="chief", now=NOW)  # fmt: skip
    with unit_of_work(session_factory) as session:
        listed = quality_reports.list_reports(session)
        assert [(r.kind, r.period_label, r.generated_by) for r in listed] == [
            ("monthly", "2026-11", "chief"), ("monthly", "2026-11", SCHEDULE),
            ("annual", "2025", SCHEDULE),
        ]  # fmt: skip
        scheduled = quality_reports.scheduled_report(session, "monthly", "2026-11")
        assert scheduled is not None
        assert scheduled.pdf == b"%PDF"
        latest = quality_reports.latest_report(session, "monthly", "2026-11")
        assert latest is not None
        assert latest.generated_by == "chief"
        found = quality_reports.get_report(session, listed[-1].id)
        assert found is not None
        assert found.html == files.html
        assert [r.kind for r in quality_reports.list_reports(session, kind="annual")] == ["annual"]
