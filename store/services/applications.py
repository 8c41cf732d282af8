"""Applications (业扩报装 / 变更用电): checklist, start online, stage progress.

The checklist names only what is not already on file for the account, so a verified customer
is not asked again for an ID card the station holds. Time limits come from commitments.yml;
time spent waiting on the customer (missing documents, their own construction) does not count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.ids import APPLICATION_PREFIX, normalise_application_no, normalise_phone
from store.models import (
    Account,
    AccountCategory,
    Application,
    ApplicationEvent,
    ApplicationStage,
    ServiceArea,
    Voltage,
)
from store.services.application_views import ApplicationView, describe
from store.services.numbers import next_number
from store.sla import add_working_days, require_aware, working_days_between
from store.stages import CANCELLED, allowed_stages, is_finished, waits_on_customer
from store.workflow import IllegalTransition

__all__ = [
    "ApplicationView",
    "Checklist",
    "Document",
    "IllegalTransition",
    "advance",
    "allowed_next",
    "checklist",
    "describe",
    "get_by_no",
    "open_for_account",
    "open_for_sender",
    "start",
]

#: Documents the station can already hold for an account, and how to tell.
_ON_FILE: dict[str, Callable[[Account], bool]] = {
    "id_card": lambda a: a.id_card_on_file,
    "property_proof": lambda a: a.property_proof_on_file,
    "arrears_settled": lambda a: a.balance >= 0,
}


@dataclass(frozen=True)
class Document:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Checklist:
    required: tuple[Document, ...]
    on_file: tuple[Document, ...]
    missing: tuple[Document, ...]


def checklist(
    settings: Settings, app_type: str, account: Account | None, *, voltage: str = Voltage.LOW
) -> Checklist:
    """Documents an application needs, split into those on file and those still missing."""
    config = settings.applications.types[app_type]
    required = tuple(Document(d.code, d.zh, d.en) for d in config.documents_for(voltage))
    held = tuple(
        d
        for d in required
        if account is not None and d.code in _ON_FILE and _ON_FILE[d.code](account)
    )
    missing = tuple(d for d in required if d not in held)
    return Checklist(required, held, missing)


def _stage_due(settings: Settings, app: Application, stage: str, now: datetime) -> datetime | None:
    spec = settings.applications.types[app.type].stage(stage)
    if spec is None or spec.working_days is None:
        return None
    return add_working_days(now, spec.working_days, settings.calendar, settings.tz)


def start(
    session: Session,
    settings: Settings,
    *,
    app_type: str,
    now: datetime,
    business_type: str | None = None,
    account: Account | None = None,
    applicant_name: str | None = None,
    contact_phone: str | None = None,
    address: str | None = None,
    area: ServiceArea | None = None,
    sender_id: str | None = None,
    channel: str | None = None,
    voltage: str = Voltage.LOW,
    dual_supply: bool = False,
    category: str | None = None,
) -> Application:
    """Open an application at stage 'received' with its end-to-end deadline."""
    require_aware(now)
    if app_type not in settings.applications.types:
        raise ValueError(f"unknown application type {app_type!r}")
    if voltage not in tuple(Voltage):
        raise ValueError(f"voltage must be 'low' or 'high', got {voltage!r}")
    if business_type is not None and settings.applications.business_type(business_type) is None:
        raise ValueError(f"unknown business type {business_type!r}")
    category = category or (account.category if account else AccountCategory.RESIDENTIAL)
    days = settings.commitments.application_working_days(
        app_type, voltage=voltage, category=category, dual_supply=dual_supply
    )
    docs = checklist(settings, app_type, account, voltage=voltage)
    app = Application(
        application_no=next_number(session, APPLICATION_PREFIX, now, settings.tz),
        type=app_type,
        business_type=business_type,
        voltage=voltage,
        dual_supply=dual_supply,
        category=category,
        stage=ApplicationStage.RECEIVED,
        account=account,
        applicant_name=applicant_name or (account.holder_name if account else None),
        contact_phone=normalise_phone(contact_phone or "") or (contact_phone or None),
        address=address or (account.address if account else None),
        area=area or (account.area if account else None),
        sender_id=sender_id,
        channel=channel,
        documents_received=[d.code for d in docs.on_file],
        due_at=add_working_days(now, days, settings.calendar, settings.tz),
        created_at=now,
    )
    session.add(app)
    session.add(
        ApplicationEvent(
            application=app,
            stage=ApplicationStage.RECEIVED,
            at=now,
            actor="assistant",
            stage_due_at=_stage_due(settings, app, ApplicationStage.RECEIVED, now),
        )
    )
    session.flush()
    return app


def get_by_no(session: Session, application_no: str) -> Application | None:
    value = normalise_application_no(application_no or "")
    if value is None:
        return None
    stmt = select(Application).where(Application.application_no == value)
    return session.scalars(stmt).one_or_none()


def open_for_account(session: Session, account_id: int) -> list[Application]:
    stmt = (
        select(Application)
        .where(Application.account_id == account_id, Application.closed_at.is_(None))
        .order_by(Application.created_at.desc(), Application.id.desc())
    )
    return list(session.scalars(stmt))


def open_for_sender(session: Session, sender_id: str) -> list[Application]:
    if not sender_id:
        return []
    stmt = (
        select(Application)
        .where(Application.sender_id == sender_id, Application.closed_at.is_(None))
        .order_by(Application.created_at.desc(), Application.id.desc())
    )
    return list(session.scalars(stmt))


def allowed_next(settings: Settings, application: Application) -> tuple[str, ...]:
    """The stages this application may move to now (none once finished: completed, withdrawn,
    or rejected by the back office)."""
    if application.closed_at is not None:
        return ()
    config = settings.applications.types[application.type]
    history = [e.stage for e in application.events]
    return allowed_stages(config, application.voltage, application.stage, history)


def advance(
    session: Session,
    settings: Settings,
    application: Application,
    stage: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> ApplicationEvent:
    """Move to `stage` if the configured order allows it, else IllegalTransition."""
    require_aware(now)
    config = settings.applications.types[application.type]
    allowed = allowed_next(settings, application)
    if stage not in allowed:
        raise IllegalTransition(
            f"application {application.application_no} cannot go from {str(application.stage)!r} "
            f"to {str(stage)!r}; allowed: {', '.join(allowed) or 'none (finished)'}"
        )
    if waits_on_customer(config, application.stage) and application.events:
        # the clock stopped while the customer acted: move the deadline by that time
        paused = working_days_between(
            application.events[-1].at, now, settings.calendar, settings.tz
        )
        application.due_at = add_working_days(
            application.due_at, paused, settings.calendar, settings.tz
        )
    application.stage = stage
    if is_finished(config, stage):
        application.closed_at = now
    event = ApplicationEvent(
        application=application,
        stage=stage,
        at=now,
        actor=actor,
        note=note,
        stage_due_at=None if stage == CANCELLED else _stage_due(settings, application, stage, now),
    )
    session.add(event)
    session.flush()
    return event
