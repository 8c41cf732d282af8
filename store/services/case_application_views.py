"""What the back office sees of applications: the queue by stage, each stage with its limit in
working days (applications.yml) and each application with the deadline running now (none while
it waits on the customer), overdue ones first; and one application's page with its documents,
history, decision and the steps it may take now.

Plain dicts ready for JSON; phones masked in the queue; conversations as handle and masked
label only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store.config import Settings
from store.configuration.back_office import BackOffice
from store.conversation_refs import mask
from store.models import Application, ApplicationStage, Conversation
from store.services import applications
from store.services.application_views import describe
from store.services.case_feedback_views import CLOSED, OPEN, OVERDUE, STATES
from store.services.customer_refs import iso, mask_phone
from store.sla import require_aware
from store.stages import waits_on_customer


def _stage_days(settings: Settings, app: Application, stage: str) -> int | None:
    spec = settings.applications.types[app.type].stage(stage)
    return spec.working_days if spec is not None else None


def _summary(
    session: Session, settings: Settings, app: Application, now: datetime
) -> dict[str, Any]:
    view = describe(session, settings, app, now)
    config = settings.applications.types[app.type]
    return {
        "application_no": app.application_no,
        "type": app.type,
        "type_label": config.name_zh,
        "voltage": app.voltage,
        "stage": app.stage,
        "stage_label": view.stage_label.zh,
        "stage_working_days": _stage_days(settings, app, app.stage),
        "waits_on_customer": not view.finished and waits_on_customer(config, app.stage),
        "due_at": iso(view.due_at),
        "final_due_at": iso(view.final_due_at),
        "overdue": view.overdue,
        "applicant_name": app.applicant_name,
        "phone": mask_phone(app.contact_phone),
        "area": app.area.name if app.area else None,
        "created_at": iso(app.created_at),
        "closed_at": iso(app.closed_at),
        "documents_missing": [label.zh for label in view.documents_missing],
        "decision": app.decision,
    }


def queue(
    session: Session,
    settings: Settings,
    office: BackOffice,
    now: datetime,
    *,
    type: str | None = None,
    state: str = OPEN,
) -> dict[str, Any]:
    """The applications of one state (open, closed, overdue), grouped by stage in the order
    of the type's stages, overdue first within a stage."""
    require_aware(now)
    if type is not None and type not in settings.applications.types:
        raise ValueError(f"type must be one of {', '.join(settings.applications.types)}")
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    stmt = select(Application).options(
        selectinload(Application.events), selectinload(Application.area)
    )
    if type is not None:
        stmt = stmt.where(Application.type == type)
    finished = Application.closed_at.is_not(None)
    stmt = stmt.where(finished if state == CLOSED else Application.closed_at.is_(None))
    stmt = stmt.order_by(Application.created_at.desc(), Application.id.desc())
    rows = [_summary(session, settings, a, now) for a in session.scalars(stmt.limit(5000))]
    if state == OVERDUE:
        rows = [r for r in rows if r["overdue"]]
    rows.sort(key=lambda r: not r["overdue"])
    rows = rows[: office.application_list_limit]
    return {"stages": _grouped(settings, rows), "state": state, "type": type}


def _stage_order(settings: Settings) -> list[str]:
    order: list[str] = []
    for config in settings.applications.types.values():
        for code in [s.code for s in config.stages] + list(config.side_stages):
            if code not in order:
                order.append(code)
    return order


def _grouped(settings: Settings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = _stage_order(settings)
    rank = {code: i for i, code in enumerate(order)}
    stages = sorted({r["stage"] for r in rows}, key=lambda s: (rank.get(s, len(rank)), s))
    return [
        {
            "stage": stage,
            "stage_label": settings.labels.application_stage(stage).zh,
            "applications": [r for r in rows if r["stage"] == stage],
        }
        for stage in stages
    ]


def _conversation(session: Session, sender_id: str | None) -> dict[str, Any] | None:
    if not sender_id:
        return None
    found = session.scalars(
        select(Conversation).where(Conversation.conversation_id == sender_id)
    ).one_or_none()
    return {"conversation": found.id if found else None, "conversation_label": mask(sender_id)}


def application_view(
    session: Session, settings: Settings, app: Application, now: datetime
) -> dict[str, Any]:
    """One application for the clerk: applicant and phone, documents, history, decision, and
    the stages it may move to now."""
    require_aware(now)
    labels = settings.labels
    config = settings.applications.types[app.type]
    received = set(app.documents_received or [])
    requested = set(app.documents_requested or [])
    following = applications.allowed_next(settings, app)
    return {
        **_summary(session, settings, app, now),
        "phone": app.contact_phone,
        "address": app.address,
        "business_type": app.business_type,
        "account_no": app.account.account_no if app.account else None,
        "channel": app.channel,
        "conversation": _conversation(session, app.sender_id),
        "documents": [
            {
                "code": d.code,
                "name": d.zh,
                "received": d.code in received,
                "requested": d.code in requested,
            }
            for d in config.documents_for(app.voltage)
        ],
        "decision_reason": app.decision_reason,
        "decided_by": app.decided_by,
        "decided_at": iso(app.decided_at),
        "next_stages": [
            {"stage": s, "label": labels.application_stage(s).zh}
            for s in following
            if s not in config.side_stages and s != ApplicationStage.CANCELLED
        ],
        "can_send_back": ApplicationStage.NEED_MORE_DOCS in following,
        "timeline": [
            {
                "stage": e.stage,
                "stage_label": labels.application_stage(e.stage).zh,
                "at": iso(e.at),
                "actor": e.actor,
                "note": e.note,
                "stage_due_at": iso(e.stage_due_at),
            }
            for e in app.events
        ],
    }
