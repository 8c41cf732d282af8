"""Keeping reports, over store/services/quality_reports.py: a report's facts without its files
(`StoredReport`, its title made from the station's name and the period, as the report's own), and
each file on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from store.quality import Period
from store.quality_reports.content import ReportContent
from store.quality_reports.kinds import ReportKind, report_title
from store.quality_reports.render import Rendered
from store.services import quality_reports as service
from store.services.quality_reports import QualityReport, ReportExists, ReportFiles

FORMATS: Final = ("html", "pdf", "csv", "xlsx")

__all__ = [
    "FORMATS",
    "ReportExists",
    "StoredReport",
    "file_of",
    "get",
    "has_scheduled",
    "listing",
    "save",
]


@dataclass(frozen=True)
class StoredReport:
    id: int
    kind: ReportKind
    period: str
    """the period's label: 2026-11, 2026-Q4, 2026, 2026-11-01..2026-11-30"""
    title: str
    generated_at: datetime
    generated_by: str


def _view(row: QualityReport, station: str) -> StoredReport:
    return StoredReport(
        id=row.id,
        kind=ReportKind(row.kind),
        period=row.period_label,
        title=report_title(station, Period.parse(row.period_label)),
        generated_at=row.generated_at,
        generated_by=row.generated_by,
    )


def save(session: Session, content: ReportContent, rendered: Rendered) -> StoredReport:
    """Store the report (ReportExists, or IntegrityError from a racing process, when it is a
    scheduled one whose kind and period are stored already)."""
    files = ReportFiles(html=rendered.html, pdf=rendered.pdf, csv=rendered.csv, xlsx=rendered.xlsx)
    row = service.store_report(
        session,
        kind=content.kind,
        period_label=content.period.label,
        files=files,
        generated_by=content.generated_by,
        now=content.generated_at,
    )
    return _view(row, content.station)


def has_scheduled(session: Session, kind: ReportKind, label: str) -> bool:
    return service.scheduled_report(session, kind, label) is not None


def listing(session: Session, station: str, kind: str | None = None) -> list[StoredReport]:
    """The stored reports (of one kind), the newest period first (as many as the service
    lists: 200, over ten years of monthly, quarterly and annual ones)."""
    return [_view(row, station) for row in service.list_reports(session, kind=kind)]


def get(session: Session, report_id: int, station: str) -> StoredReport | None:
    row = service.get_report(session, report_id)
    return _view(row, station) if row is not None else None


def file_of(session: Session, report_id: int, fmt: str) -> bytes | None:
    """One of FORMATS of a stored report (the HTML as UTF-8); None without the report or file."""
    row = service.get_report(session, report_id)
    if row is None:
        return None
    files = {"html": row.html.encode("utf-8"), "pdf": row.pdf, "csv": row.csv, "xlsx": row.xlsx}
    return files[fmt]
