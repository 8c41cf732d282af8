"""Work orders (工单): fault reports, hazards, complaints, meter tests and the rest.

The public face of tickets: opening them (store.services.ticket_intake), finding them, moving
them through their state machine (store.workflow) and describing them to customers
(store.services.ticket_views).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.ids import normalise_ticket_no
from store.models import ServiceArea, Ticket, TicketEvent, TicketPriority, TicketStatus
from store.services import crews
from store.services.ticket_intake import (
    AnonymityError,
    FaultOutcome,
    FaultReport,
    create_ticket,
    report_fault,
)
from store.services.ticket_views import TicketView, describe
from store.sla import require_aware
from store.workflow import TERMINAL_STATUSES, IllegalTransition, allowed_next, check_transition

__all__ = [
    "AnonymityError",
    "FaultOutcome",
    "FaultReport",
    "IllegalTransition",
    "TicketView",
    "advance",
    "create_ticket",
    "describe",
    "escalate",
    "get_by_no",
    "open_for_account",
    "open_for_sender",
    "report_fault",
    "update_address",
]


def get_by_no(session: Session, ticket_no: str) -> Ticket | None:
    """The ticket with this number ('t２６１１２３０００１' works too); None if not found."""
    value = normalise_ticket_no(ticket_no or "")
    if value is None:
        return None
    return session.scalars(select(Ticket).where(Ticket.ticket_no == value)).one_or_none()


def open_for_account(session: Session, account_id: int) -> list[Ticket]:
    """Unfinished tickets of an account, newest first."""
    stmt = (
        select(Ticket)
        .where(Ticket.account_id == account_id, Ticket.closed_at.is_(None))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return list(session.scalars(stmt))


def open_for_sender(session: Session, sender_id: str) -> list[Ticket]:
    """Unfinished tickets opened in this conversation, newest first."""
    if not sender_id:
        return []
    stmt = (
        select(Ticket)
        .where(Ticket.sender_id == sender_id, Ticket.closed_at.is_(None))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return list(session.scalars(stmt))


def advance(
    session: Session,
    ticket: Ticket,
    status: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    crew: str | None = None,
) -> TicketEvent:
    """Move the ticket to `status` if its state machine allows it, else IllegalTransition."""
    require_aware(now)
    check_transition(ticket.type, ticket.status, status)
    ticket.status = status
    if status in TERMINAL_STATUSES:
        ticket.closed_at = now
    if status == TicketStatus.ESCALATED:
        ticket.escalated = True
    if crew:  # a crew named by text (scripts, the demo's histories): the real crew
        ticket.crew = crews.ensure_crew(session, crew, now=now)
    event = TicketEvent(ticket=ticket, status=status, at=now, actor=actor, note=note)
    session.add(event)
    session.flush()
    return event


def escalate(
    session: Session, ticket: Ticket, *, actor: str, now: datetime, note: str | None = None
) -> TicketEvent:
    """A repeated complaint: escalate when the state machine allows it, else record the repeat
    (a note in the history) and flag the ticket, so supervisors see it either way."""
    require_aware(now)
    if TicketStatus.ESCALATED in allowed_next(ticket.type, ticket.status):
        return advance(session, ticket, TicketStatus.ESCALATED, actor=actor, now=now, note=note)
    if ticket.closed_at is not None:
        raise IllegalTransition(f"ticket {ticket.ticket_no} is finished ({ticket.status})")
    ticket.escalated = True
    if ticket.priority in (TicketPriority.NORMAL, TicketPriority.LOW):
        ticket.priority = TicketPriority.HIGH
    event = TicketEvent(ticket=ticket, status=ticket.status, at=now, actor=actor, note=note)
    session.add(event)
    session.flush()
    return event


def update_address(
    session: Session,
    ticket: Ticket,
    *,
    address: str,
    area: ServiceArea | None = None,
    now: datetime,
) -> Ticket:
    """Fill in the place of a report made before the customer could say where (hazards).

    The deadlines stay as they were set at creation: the crew was dispatched then.
    """
    require_aware(now)
    ticket.address = address.strip() or ticket.address
    if area is not None:
        ticket.area = area
    session.flush()
    return ticket
