"""What the back office sees of complaints and feedback: the list with each case's commitments
(contact and reply deadlines, overdue or due soon), and a case's page with the customer's words,
its history, and the same customer's earlier complaints (a repeated complaint).

Plain dicts ready for JSON. Phones are masked in the list (the case page shows the number: the
handler has to call it); conversations appear as their handle and masked label, never their id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from store.config import Settings
from store.configuration.back_office import BackOffice
from store.conversation_refs import mask
from store.models import Conversation, Ticket, TicketType
from store.services.case_feedback import FEEDBACK_TYPES, contacted_at, replied_at
from store.services.customer_refs import iso, mask_phone
from store.sla import require_aware
from store.workflow import allowed_next

OPEN, CLOSED, OVERDUE = "open", "closed", "overdue"
STATES = (OPEN, CLOSED, OVERDUE)


@dataclass(frozen=True)
class Commitment:
    """One deadline of a case: when, whether met, late, or close."""

    due_at: datetime | None
    done_at: datetime | None

    def late(self, now: datetime) -> bool:
        return self.due_at is not None and (self.done_at or now) > self.due_at

    def json(self, now: datetime, soon: timedelta) -> dict[str, Any]:
        due = self.due_at
        return {
            "due_at": iso(due),
            "done_at": iso(self.done_at),
            "late": self.late(now),
            "due_soon": bool(due and self.done_at is None and now <= due <= now + soon),
        }


def contact_commitment(ticket: Ticket) -> Commitment:
    """Complaints only: the customer is contacted within the configured hours."""
    due = ticket.respond_due_at if ticket.type == TicketType.COMPLAINT else None
    return Commitment(due, contacted_at(ticket))


def reply_commitment(ticket: Ticket) -> Commitment:
    return Commitment(ticket.resolve_due_at, replied_at(ticket))


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """An open case past a deadline it has not met yet."""
    if ticket.closed_at is not None:
        return False
    return any(
        c.done_at is None and c.late(now)
        for c in (contact_commitment(ticket), reply_commitment(ticket))
    )


def _earlier_filter(ticket: Ticket) -> list[Any]:
    same = []
    if ticket.account_id is not None:
        same.append(Ticket.account_id == ticket.account_id)
    if ticket.contact_phone:
        same.append(Ticket.contact_phone == ticket.contact_phone)
    return same


def earlier_complaints(
    session: Session, ticket: Ticket, lookback: timedelta, limit: int = 20
) -> list[Ticket]:
    """The same customer's (account or phone) complaints before this one, within `lookback`."""
    same = _earlier_filter(ticket)
    if not same:
        return []
    stmt = (
        select(Ticket)
        .where(
            Ticket.type == TicketType.COMPLAINT,
            Ticket.id != ticket.id,
            Ticket.created_at <= ticket.created_at,
            Ticket.created_at >= ticket.created_at - lookback,
            or_(*same),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _summary(
    settings: Settings, ticket: Ticket, now: datetime, soon: timedelta, repeats: int
) -> dict[str, Any]:
    labels = settings.labels
    return {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "type_label": labels.ticket_type(ticket.type).zh,
        "status": ticket.status,
        "status_label": labels.ticket_status(ticket.status).zh,
        "priority": ticket.priority,
        "escalated": ticket.escalated,
        "handler": ticket.handler,
        "description": ticket.description[:120],
        "phone": mask_phone(ticket.contact_phone),
        "area": ticket.area.name if ticket.area else None,
        "created_at": iso(ticket.created_at),
        "closed_at": iso(ticket.closed_at),
        "contact": contact_commitment(ticket).json(now, soon),
        "reply": reply_commitment(ticket).json(now, soon),
        "overdue": is_overdue(ticket, now),
        "earlier_complaints": repeats,
        "verdict": ticket.verdict,
    }


def _repeat_counts(session: Session, rows: Sequence[Ticket], lookback: timedelta) -> dict[int, int]:
    """For each complaint of `rows`: how many earlier complaints its customer made."""
    complaints = [t for t in rows if t.type == TicketType.COMPLAINT and _earlier_filter(t)]
    if not complaints:
        return {}
    accounts = {t.account_id for t in complaints if t.account_id is not None}
    phones = {t.contact_phone for t in complaints if t.contact_phone}
    oldest = min(t.created_at for t in complaints) - lookback
    stmt = select(Ticket.id, Ticket.account_id, Ticket.contact_phone, Ticket.created_at).where(
        Ticket.type == TicketType.COMPLAINT,
        Ticket.created_at >= oldest,
        or_(Ticket.account_id.in_(accounts), Ticket.contact_phone.in_(phones)),
    )
    others = session.execute(stmt).all()
    counts = {}
    for t in complaints:
        counts[t.id] = sum(
            1
            for o in others
            if o.id != t.id
            and t.created_at - lookback <= o.created_at <= t.created_at
            and (
                (t.account_id is not None and o.account_id == t.account_id)
                or (t.contact_phone and o.contact_phone == t.contact_phone)
            )
        )
    return counts


def list_cases(
    session: Session,
    settings: Settings,
    office: BackOffice,
    now: datetime,
    *,
    type: str | None = None,
    state: str = OPEN,
) -> dict[str, Any]:
    """The feedback cases of one state (open, closed, overdue) and type, overdue first, with a
    count per type and state."""
    require_aware(now)
    if type is not None and type not in FEEDBACK_TYPES:
        raise ValueError(f"type must be one of {', '.join(FEEDBACK_TYPES)}")
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    stmt = select(Ticket).where(Ticket.type.in_([type] if type else FEEDBACK_TYPES))
    stmt = stmt.where(
        Ticket.closed_at.is_not(None) if state == CLOSED else Ticket.closed_at.is_(None)
    )
    stmt = stmt.options(selectinload(Ticket.events), selectinload(Ticket.area))
    ordered = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    rows = list(session.scalars(ordered.limit(office.feedback_list_limit * 5)))
    if state == OVERDUE:
        rows = [t for t in rows if is_overdue(t, now)]
    elif state == OPEN:
        rows.sort(key=lambda t: not is_overdue(t, now))  # stable: overdue first, newest first
    rows = rows[: office.feedback_list_limit]
    lookback = timedelta(days=office.repeat_lookback_days)
    repeats = _repeat_counts(session, rows, lookback)
    soon = timedelta(hours=office.due_soon_hours)
    return {
        "cases": [_summary(settings, t, now, soon, repeats.get(t.id, 0)) for t in rows],
        "state": state,
        "type": type,
    }


def _conversation(session: Session, sender_id: str | None) -> dict[str, Any] | None:
    if not sender_id:
        return None
    found = session.scalars(
        select(Conversation).where(Conversation.conversation_id == sender_id)
    ).one_or_none()
    if found is None:
        return {"conversation": None, "conversation_label": mask(sender_id)}
    return {"conversation": found.id, "conversation_label": mask(found.conversation_id)}


def case_view(
    session: Session, settings: Settings, office: BackOffice, ticket: Ticket, now: datetime
) -> dict[str, Any]:
    """One case for its handler: the customer's words and phone, commitments, history, the
    steps it may take now, and the same customer's earlier complaints."""
    require_aware(now)
    labels = settings.labels
    lookback = timedelta(days=office.repeat_lookback_days)
    is_complaint = ticket.type == TicketType.COMPLAINT
    earlier = earlier_complaints(session, ticket, lookback) if is_complaint else []
    soon = timedelta(hours=office.due_soon_hours)
    return {
        **_summary(settings, ticket, now, soon, len(earlier)),
        "description": ticket.description,
        "phone": ticket.contact_phone,
        "address": ticket.address,
        "account_no": ticket.account.account_no if ticket.account else None,
        "holder_name": ticket.account.holder_name if ticket.account else None,
        "channel": ticket.channel,
        "conversation": _conversation(session, ticket.sender_id),
        "reply_text": ticket.reply,
        "next_statuses": list(allowed_next(ticket.type, ticket.status)),
        "timeline": [
            {
                "status": e.status,
                "status_label": labels.ticket_status(e.status).zh,
                "at": iso(e.at),
                "actor": e.actor,
                "note": e.note,
            }
            for e in ticket.events
        ],
        "earlier": [
            {
                "ticket_no": t.ticket_no,
                "status": t.status,
                "status_label": labels.ticket_status(t.status).zh,
                "created_at": iso(t.created_at),
                "description": t.description[:120],
                "verdict": t.verdict,
            }
            for t in earlier
        ],
    }
