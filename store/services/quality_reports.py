"""Stored periodic evaluation reports (the paper's 3.3): every generated report is kept with its
renderings (HTML, PDF, CSV, XLSX) and listed, so last year's can be compared with this year's.

The running service makes one report of each kind per period at the period's end
(`generated_by` = SCHEDULE); a second scheduled one of the same kind and period is refused
(a unique index), while reports asked for on demand (`generated_by` = the username) are kept
beside it. Rendering is the reports' business; this module only stores and finds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from store.models import QualityReport, ReportKind
from store.models.quality import SCHEDULE
from store.sla import require_aware

__all__ = [
    "REPORT_KINDS",
    "SCHEDULE",
    "QualityReport",
    "ReportExists",
    "ReportFiles",
    "ReportKind",
    "get_report",
    "latest_report",
    "list_reports",
    "scheduled_report",
    "store_report",
]

REPORT_KINDS: Final[tuple[str, ...]] = tuple(k.value for k in ReportKind)
LABEL_MAX: Final = 32


class ReportExists(ValueError):
    """The scheduled report of this kind and period was stored already."""


@dataclass(frozen=True)
class ReportFiles:
    """A report's renderings."""

    html: str
    pdf: bytes | None = None
    csv: bytes | None = None
    xlsx: bytes | None = None


def scheduled_report(session: Session, kind: str, period_label: str) -> QualityReport | None:
    """The scheduled report of this kind and period, if it was made."""
    stmt = select(QualityReport).where(
        QualityReport.kind == kind,
        QualityReport.period_label == period_label,
        QualityReport.generated_by == SCHEDULE,
    )
    return session.scalars(stmt).one_or_none()


def store_report(
    session: Session,
    *,
    kind: str,
    period_label: str,
    files: ReportFiles,
    generated_by: str,
    now: datetime,
) -> QualityReport:
    """Keep a generated report; ReportExists for a second scheduled one of a kind and period,
    ValueError for an unknown kind or an empty label."""
    require_aware(now)
    if kind not in REPORT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(REPORT_KINDS)}")
    label = (period_label or "").strip()
    if not label or len(label) > LABEL_MAX:
        raise ValueError(f"a period label of 1 to {LABEL_MAX} characters is required")
    if not (generated_by or "").strip():
        raise ValueError("generated_by is required (the username, or SCHEDULE)")
    if generated_by == SCHEDULE and scheduled_report(session, kind, label) is not None:
        raise ReportExists(f"the scheduled {kind} report of {label} exists")
    report = QualityReport(
        kind=kind,
        period_label=label,
        generated_at=now,
        generated_by=generated_by,
        html=files.html,
        pdf=files.pdf,
        csv=files.csv,
        xlsx=files.xlsx,
    )
    session.add(report)
    session.flush()
    return report


def get_report(session: Session, report_id: int) -> QualityReport | None:
    return session.get(QualityReport, report_id)


def list_reports(
    session: Session, *, kind: str | None = None, limit: int = 200
) -> list[QualityReport]:
    """Reports newest period first (then newest generated), without loading their files."""
    stmt = select(QualityReport).options(
        defer(QualityReport.html), defer(QualityReport.pdf), defer(QualityReport.csv)
    )
    stmt = stmt.options(defer(QualityReport.xlsx))
    if kind is not None:
        stmt = stmt.where(QualityReport.kind == kind)
    stmt = stmt.order_by(
        QualityReport.period_label.desc(), QualityReport.generated_at.desc(), QualityReport.id
    )
    return list(session.scalars(stmt.limit(limit)))


def latest_report(session: Session, kind: str, period_label: str) -> QualityReport | None:
    """The newest report of a kind and period, scheduled or asked for."""
    stmt = (
        select(QualityReport)
        .where(QualityReport.kind == kind, QualityReport.period_label == period_label)
        .order_by(QualityReport.generated_at.desc(), QualityReport.id.desc())
    )
    return session.scalars(stmt.limit(1)).first()
