"""Working applications in the back office: advance a stage, send back for missing documents,
approve or reject with a reason.

Stage changes go through `applications.advance` (the configured order, store/stages.py), so each
is an `ApplicationEvent` with who and when, announced by the notifier. A send-back names the
missing documents (taken off the ones on file, kept in `documents_requested`); the application
leaves `need_more_docs` only once they are all in. While it waits, the station's clock follows
conf/back_office.yml `applications.send_back_clock`: `paused` (the deadline moves on by the
working days waited, what `applications.advance` does for every customer stage) or `restarted`
(the whole end-to-end limit runs again from the day the documents are complete).

A step the application cannot take now raises `IllegalTransition` (409); a wrong value
`ValueError` (422).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.back_office import BackOffice, SendBackClock
from store.models import Application, ApplicationDecision, ApplicationEvent, ApplicationStage
from store.services import applications
from store.sla import add_working_days, require_aware
from store.workflow import IllegalTransition

__all__ = [
    "IllegalTransition",
    "advance",
    "approve",
    "missing_documents",
    "reject",
    "send_back",
]

NEED_MORE_DOCS: Final = ApplicationStage.NEED_MORE_DOCS
REJECTED: Final = ApplicationStage.REJECTED
REASON_MAX: Final = 2000


def _text(value: str | None, what: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ValueError(f"{what} is required")
    if len(text) > REASON_MAX:
        raise ValueError(f"{what} is longer than {REASON_MAX} characters")
    return text or None


def _document_codes(settings: Settings, app: Application) -> tuple[str, ...]:
    config = settings.applications.types[app.type]
    return tuple(d.code for d in config.documents_for(app.voltage))


def _known(settings: Settings, app: Application, codes: Iterable[str]) -> list[str]:
    allowed = _document_codes(settings, app)
    chosen = list(dict.fromkeys(codes))
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise ValueError(
            f"unknown document {unknown[0]!r} for this application; one of {', '.join(allowed)}"
        )
    return chosen


def missing_documents(settings: Settings, app: Application) -> list[str]:
    """The codes of the documents this application needs and the station does not hold."""
    received = set(app.documents_received or [])
    return [c for c in _document_codes(settings, app) if c not in received]


def _doc_names(settings: Settings, codes: Iterable[str]) -> str:
    config = settings.applications
    names = {d.code: d.zh for t in config.types.values() for d in t.documents}
    return "、".join(names.get(c, c) for c in codes)


def _receive(settings: Settings, app: Application, codes: Iterable[str]) -> list[str]:
    """Mark `codes` as received; the ones newly received."""
    chosen = _known(settings, app, codes)
    held = list(app.documents_received or [])
    new = [c for c in chosen if c not in held]
    app.documents_received = held + new
    return new


def _open(app: Application) -> None:
    if app.closed_at is not None:
        raise IllegalTransition(f"application {app.application_no} is finished ({app.stage})")


def _restart_clock(settings: Settings, app: Application, now: datetime) -> None:
    days = settings.commitments.application_working_days(
        app.type, voltage=app.voltage, category=app.category, dual_supply=app.dual_supply
    )
    app.due_at = add_working_days(now, days, settings.calendar, settings.tz)


def _note(*parts: str | None) -> str | None:
    return "；".join(p for p in parts if p) or None


def advance(
    session: Session,
    settings: Settings,
    office: BackOffice,
    app: Application,
    stage: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    received: Iterable[str] = (),
) -> ApplicationEvent:
    """Move to `stage` (the configured order decides); `received`: documents brought now."""
    require_aware(now)
    _open(app)
    text = _text(note, "note", required=False)
    if stage == NEED_MORE_DOCS:
        raise IllegalTransition("a send-back names the missing documents: use send-back")
    if stage == REJECTED:
        raise IllegalTransition("a rejection needs a reason: use reject")
    new = _receive(settings, app, received)
    leaving = app.stage == NEED_MORE_DOCS
    if leaving and (missing := missing_documents(settings, app)):
        raise IllegalTransition(
            f"application {app.application_no} still lacks: {', '.join(missing)}"
        )
    got = f"收到资料：{_doc_names(settings, new)}" if new else None
    event = applications.advance(
        session, settings, app, stage, actor=actor, now=now, note=_note(got, text)
    )
    if leaving:
        app.documents_requested = None
        if office.send_back_clock == SendBackClock.RESTARTED:
            _restart_clock(settings, app, now)
    session.flush()
    return event


def send_back(
    session: Session,
    settings: Settings,
    app: Application,
    *,
    missing: Iterable[str],
    actor: str,
    now: datetime,
    note: str | None = None,
) -> ApplicationEvent:
    """Send the application back to the customer for the documents `missing` (codes of
    applications.yml): they leave the ones on file, and the customer is told exactly these."""
    require_aware(now)
    _open(app)
    codes = _known(settings, app, missing)
    if not codes:
        raise ValueError("name at least one missing document")
    text = _text(note, "note", required=False)
    if NEED_MORE_DOCS not in applications.allowed_next(settings, app):
        raise IllegalTransition(
            f"application {app.application_no} cannot be sent back for documents at {app.stage}"
        )
    app.documents_received = [c for c in app.documents_received or [] if c not in codes]
    app.documents_requested = codes
    event = applications.advance(
        session,
        settings,
        app,
        NEED_MORE_DOCS,
        actor=actor,
        now=now,
        note=_note(f"需补充：{_doc_names(settings, codes)}", text),
    )
    session.flush()
    return event


def _decide(app: Application, decision: str, reason: str, actor: str, now: datetime) -> None:
    app.decision = decision
    app.decision_reason = reason
    app.decided_by = actor
    app.decided_at = now


def approve(
    session: Session,
    settings: Settings,
    app: Application,
    *,
    reason: str | None,
    actor: str,
    now: datetime,
    received: Iterable[str] = (),
) -> ApplicationEvent:
    """Approve the application (its documents complete) and move it to its next main stage."""
    require_aware(now)
    _open(app)
    text = _text(reason, "reason", required=False) or "资料齐全"
    config = settings.applications.types[app.type]
    if app.decision is not None:
        raise IllegalTransition(f"application {app.application_no} was already {app.decision}")
    if app.stage in config.side_stages:
        raise IllegalTransition(f"application {app.application_no} waits at {app.stage}")
    new = _receive(settings, app, received)
    if missing := missing_documents(settings, app):
        raise IllegalTransition(
            f"application {app.application_no} still lacks: {', '.join(missing)}"
        )
    main = {s.code for s in config.stages_for(app.voltage)}
    following = [s for s in applications.allowed_next(settings, app) if s in main]
    if not following:
        raise IllegalTransition(f"application {app.application_no} has no stage to move on to")
    _decide(app, ApplicationDecision.APPROVED, text, actor, now)
    got = f"收到资料：{_doc_names(settings, new)}" if new else None
    return applications.advance(
        session, settings, app, following[0], actor=actor, now=now,
        note=_note(f"审核通过：{text}", got),
    )  # fmt: skip


def reject(
    session: Session, app: Application, *, reason: str, actor: str, now: datetime
) -> ApplicationEvent:
    """Turn the application down with a reason: it ends at `rejected`."""
    require_aware(now)
    _open(app)
    text = _text(reason, "reason", required=True)
    assert text is not None
    _decide(app, ApplicationDecision.REJECTED, text, actor, now)
    app.stage = REJECTED
    app.closed_at = now
    event = ApplicationEvent(
        application=app, stage=REJECTED, at=now, actor=actor, note=text, stage_due_at=None
    )
    session.add(event)
    session.flush()
    return event


def notice_documents(settings: Settings, app: Application) -> str:
    """The requested documents' names, for the customer's notice."""
    return _doc_names(settings, app.documents_requested or [])
