"""The improvement plan (the paper's 3.1): measures with a title, the figure each should move
from its baseline to its target, an owner, a due date and a status, edited on the quality
dashboard and read back by the periodic reports (each measure's execution and the change in
its figure).

A measure names a figure by its key (docs/quality.md, conf/quality.yml), and its owner by a
staff username; a wrong value raises `PlanError` (the API's 422).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import quality
from store.models import MeasureStatus, QualityMeasure, StaffUser
from store.sla import require_aware

__all__ = [
    "MEASURE_STATUSES",
    "MeasureChanges",
    "MeasureStatus",
    "PlanError",
    "QualityMeasure",
    "create_measure",
    "delete_measure",
    "get_measure",
    "list_measures",
    "update_measure",
]

MEASURE_STATUSES: Final[tuple[str, ...]] = tuple(s.value for s in MeasureStatus)
TITLE_MAX: Final = 200
NOTES_MAX: Final = 4000


class PlanError(ValueError):
    """A measure that cannot be saved as given (empty title, unknown figure or owner, ...)."""


@dataclass(frozen=True)
class MeasureChanges:
    """What an edit changes; None leaves a field as it is (`clear_notes` empties the notes,
    `clear_baseline`/`clear_target` empty those numbers)."""

    title: str | None = None
    figure_key: str | None = None
    baseline: float | None = None
    target: float | None = None
    owner: str | None = None
    due_date: date | None = None
    status: str | None = None
    notes: str | None = None
    clear_notes: bool = False
    clear_baseline: bool = False
    clear_target: bool = False


def _title(value: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > TITLE_MAX:
        raise PlanError(f"a title of 1 to {TITLE_MAX} characters is required")
    return text


def _figure(value: str) -> str:
    key = (value or "").strip()
    if key not in quality.figure_keys() and key not in quality.scorecard_keys():
        raise PlanError(f"unknown figure {key!r}")
    return key


def _number(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not math.isfinite(float(value)):
        raise PlanError(f"{what} must be a number")
    return float(value)


def _owner(session: Session, username: str) -> str:
    name = (username or "").strip()
    found = session.scalars(select(StaffUser.id).where(StaffUser.username == name)).first()
    if found is None:
        raise PlanError(f"unknown staff member {name!r}")
    return name


def _status(value: str) -> str:
    if value not in MEASURE_STATUSES:
        raise PlanError(f"status must be one of {', '.join(MEASURE_STATUSES)}")
    return value


def _notes(value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > NOTES_MAX:
        raise PlanError(f"notes are longer than {NOTES_MAX} characters")
    return text or None


def create_measure(
    session: Session,
    *,
    title: str,
    figure_key: str,
    owner: str,
    due_date: date,
    actor: str,
    now: datetime,
    baseline: float | None = None,
    target: float | None = None,
    status: str = MeasureStatus.PLANNED,
    notes: str | None = None,
) -> QualityMeasure:
    """A new measure of the plan; PlanError when a value is wrong."""
    require_aware(now)
    measure = QualityMeasure(
        title=_title(title),
        figure_key=_figure(figure_key),
        baseline=_number(baseline, "baseline"),
        target=_number(target, "target"),
        owner=_owner(session, owner),
        due_date=due_date,
        status=_status(status),
        notes=_notes(notes),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(measure)
    session.flush()
    return measure


def update_measure(
    session: Session, measure: QualityMeasure, changes: MeasureChanges, *, now: datetime
) -> QualityMeasure:
    """Apply `changes` to a measure (validated like a new one) and stamp the time."""
    require_aware(now)
    c = changes
    if c.title is not None:
        measure.title = _title(c.title)
    if c.figure_key is not None:
        measure.figure_key = _figure(c.figure_key)
    if c.baseline is not None or c.clear_baseline:
        measure.baseline = None if c.clear_baseline else _number(c.baseline, "baseline")
    if c.target is not None or c.clear_target:
        measure.target = None if c.clear_target else _number(c.target, "target")
    if c.owner is not None:
        measure.owner = _owner(session, c.owner)
    if c.due_date is not None:
        measure.due_date = c.due_date
    if c.status is not None:
        measure.status = _status(c.status)
    if c.notes is not None or c.clear_notes:
        measure.notes = None if c.clear_notes else _notes(c.notes)
    measure.updated_at = now
    session.flush()
    return measure


def get_measure(session: Session, measure_id: int) -> QualityMeasure | None:
    return session.get(QualityMeasure, measure_id)


def list_measures(
    session: Session,
    *,
    status: str | None = None,
    figure_key: str | None = None,
    owner: str | None = None,
) -> list[QualityMeasure]:
    """The plan's measures, soonest due first (optionally one status, figure or owner)."""
    stmt = select(QualityMeasure)
    if status is not None:
        stmt = stmt.where(QualityMeasure.status == _status(status))
    if figure_key is not None:
        stmt = stmt.where(QualityMeasure.figure_key == figure_key)
    if owner is not None:
        stmt = stmt.where(QualityMeasure.owner == owner)
    stmt = stmt.order_by(QualityMeasure.due_date, QualityMeasure.id)
    return list(session.scalars(stmt))


def delete_measure(session: Session, measure: QualityMeasure) -> None:
    """Remove a measure entered by mistake (a measure given up is `dropped`, not deleted)."""
    session.delete(measure)
    session.flush()
