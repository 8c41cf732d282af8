"""What a customer sees of an application: stage, history, next step, documents still
missing, and the deadline that applies now (none while it waits on the customer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from store.config import Label, Settings
from store.models import Application
from store.services.views import TimelineStep, area_label, local, step
from store.sla import is_overdue, require_aware
from store.stages import waits_on_customer


@dataclass(frozen=True)
class ApplicationView:
    application_no: str
    type: str
    type_label: Label
    business_type_label: Label | None
    stage: str
    stage_label: Label
    timeline: tuple[TimelineStep, ...]
    next_step: Label
    due_at: datetime | None
    """The deadline that applies now, in station local time; None when none is running."""
    overdue: bool
    final_due_at: datetime | None
    """The end-to-end deadline (local time); None once finished."""
    area_name: Label | None
    documents_missing: tuple[Label, ...]
    finished: bool


def describe(
    session: Session, settings: Settings, application: Application, now: datetime
) -> ApplicationView:
    """The customer-facing view of an application (no name, phone or account in it)."""
    require_aware(now)
    tz = settings.tz
    labels = settings.labels
    config = settings.applications.types[application.type]
    finished = application.closed_at is not None
    due: datetime | None = None
    if not finished and not waits_on_customer(config, application.stage):
        current = application.events[-1] if application.events else None
        stage_due = current.stage_due_at if current is not None else None
        due = min(d for d in (stage_due, application.due_at) if d is not None)
    business = settings.applications.business_type(application.business_type or "")
    received = set(application.documents_received)
    missing = tuple(
        Label(d.zh, d.en)
        for d in config.documents_for(application.voltage)
        if d.code not in received
    )
    return ApplicationView(
        application_no=application.application_no,
        type=application.type,
        type_label=Label(config.name_zh, config.name_en),
        business_type_label=Label(business.name_zh, business.name_en) if business else None,
        stage=application.stage,
        stage_label=labels.application_stage(application.stage),
        timeline=tuple(
            step(e.stage, e.at, labels.application_stage(e.stage), e.actor, e.note, tz)
            for e in application.events
        ),
        next_step=labels.application_next_step(application.stage),
        due_at=local(due, tz),
        overdue=is_overdue(due, now),
        final_due_at=None if finished else local(application.due_at, tz),
        area_name=area_label(application.area),
        documents_missing=() if finished else missing,
        finished=finished,
    )
