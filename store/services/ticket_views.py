"""What a customer sees of a ticket: status, history, next step and the deadline that matters
now (crew arrival while waiting for the crew, restoration or reply after that)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from store.config import Label, Settings
from store.models import Ticket, TicketStatus
from store.services.views import TimelineStep, area_label, local, step
from store.sla import is_overdue, require_aware
from store.workflow import AWAITING_RESPONSE

#: Statuses with no further commitment running (work done, or waiting on the customer).
_NO_DEADLINE: frozenset[str] = frozenset(
    {
        TicketStatus.RESTORED,
        TicketStatus.AWAITING_CALLBACK,
        TicketStatus.MADE_SAFE,
        TicketStatus.REPLIED,
        TicketStatus.CALLBACK,
        TicketStatus.CUSTOMER_SIDE,
    }
)


@dataclass(frozen=True)
class TicketView:
    ticket_no: str
    type: str
    type_label: Label
    status: str
    status_label: Label
    timeline: tuple[TimelineStep, ...]
    next_step: Label
    due_at: datetime | None
    """The deadline that applies now, in station local time; None when none is running."""
    overdue: bool
    area_name: Label | None
    priority: str
    escalated: bool
    outage_no: str | None
    finished: bool


def current_deadline(ticket: Ticket) -> datetime | None:
    if ticket.closed_at is not None or ticket.status in _NO_DEADLINE:
        return None
    if ticket.status == TicketStatus.MERGED:
        return ticket.outage.expected_restore_at if ticket.outage else ticket.resolve_due_at
    if ticket.status in AWAITING_RESPONSE and ticket.respond_due_at is not None:
        return ticket.respond_due_at
    return ticket.resolve_due_at


def describe(session: Session, settings: Settings, ticket: Ticket, now: datetime) -> TicketView:
    """The customer-facing view of a ticket (no name, phone or account in it)."""
    require_aware(now)
    tz = settings.tz
    labels = settings.labels
    due = current_deadline(ticket)
    timeline = tuple(
        step(e.status, e.at, labels.ticket_status(e.status), e.actor, e.note, tz)
        for e in ticket.events
    )
    return TicketView(
        ticket_no=ticket.ticket_no,
        type=ticket.type,
        type_label=labels.ticket_type(ticket.type),
        status=ticket.status,
        status_label=labels.ticket_status(ticket.status),
        timeline=timeline,
        next_step=labels.ticket_next_step(ticket.type, ticket.status),
        due_at=local(due, tz),
        overdue=is_overdue(due, now),
        area_name=area_label(ticket.area),
        priority=ticket.priority,
        escalated=ticket.escalated,
        outage_no=ticket.outage.outage_no if ticket.outage else None,
        finished=ticket.closed_at is not None,
    )
