"""Opening tickets: the fault-report rules (duplicate, known outage, new) and every other type.

A fault report is checked against the customer's own open report (no second ticket) and
against a known outage in the area (attached to it, so the customer is told when it ends)
before a new ticket is opened with the committed arrival time of the area kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.config import Settings
from store.ids import TICKET_PREFIX, normalise_phone
from store.models import (
    Account,
    Outage,
    ServiceArea,
    Ticket,
    TicketEvent,
    TicketStatus,
    TicketType,
)
from store.services import outages
from store.services.areas import group_of
from store.services.numbers import next_number
from store.sla import require_aware, ticket_deadlines
from store.workflow import FAULT_ACTIVE_STATUSES, PRIORITIES, TICKET_TYPES

ASSISTANT = "assistant"


class AnonymityError(ValueError):
    """An identifying detail was passed for a report that must stay anonymous."""


class FaultOutcome(StrEnum):
    CREATED = "created"
    """A new repair ticket."""
    MERGED = "merged"
    """Attached to the known outage of the area."""
    DUPLICATE = "duplicate"
    """The customer's own open report of the same fault."""


@dataclass(frozen=True)
class FaultReport:
    kind: FaultOutcome
    ticket: Ticket
    outage: Outage | None


def _phone(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    return normalise_phone(value) or value.strip()[:32]


def _new_ticket(
    session: Session,
    settings: Settings,
    *,
    type: str,
    status: str,
    now: datetime,
    description: str,
    area: ServiceArea | None,
    account: Account | None,
    **fields: object,
) -> Ticket:
    deadlines = ticket_deadlines(
        settings.commitments,
        settings.calendar,
        settings.tz,
        ticket_type=type,
        area_kind=area.kind if area else None,
        now=now,
    )
    ticket = Ticket(
        ticket_no=next_number(session, TICKET_PREFIX, now, settings.tz),
        type=type,
        status=status,
        priority=settings.commitments.priorities[type],
        area=area,
        account=account,
        description=description.strip() or "-",
        respond_due_at=deadlines.respond_due_at,
        resolve_due_at=deadlines.resolve_due_at,
        created_at=now,
        escalated=False,
        **fields,
    )
    session.add(ticket)
    session.add(TicketEvent(ticket=ticket, status=TicketStatus.RECEIVED, at=now, actor=ASSISTANT))
    return ticket


def _duplicate(
    session: Session,
    settings: Settings,
    *,
    area: ServiceArea,
    account: Account | None,
    sender_id: str | None,
    phone: str | None,
    now: datetime,
) -> Ticket | None:
    same_customer = []
    if sender_id:
        same_customer.append(Ticket.sender_id == sender_id)
    if account is not None:
        same_customer.append(Ticket.account_id == account.id)
    if phone:
        same_customer.append(Ticket.contact_phone == phone)
    if not same_customer:
        return None
    window = timedelta(hours=settings.commitments.duplicate_window_hours)
    stmt = (
        select(Ticket)
        .where(
            Ticket.type == TicketType.FAULT,
            Ticket.area_id == area.id,
            Ticket.status.in_(FAULT_ACTIVE_STATUSES),
            Ticket.created_at >= now - window,
            or_(*same_customer),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
    )
    return session.scalars(stmt).first()


def report_fault(
    session: Session,
    settings: Settings,
    *,
    area: ServiceArea,
    address: str | None,
    description: str,
    contact_phone: str | None,
    account: Account | None,
    sender_id: str | None,
    channel: str | None,
    now: datetime,
) -> FaultReport:
    """Open (or find) the repair ticket for a customer's "no power" report."""
    require_aware(now)
    phone = _phone(contact_phone)
    existing = _duplicate(
        session, settings, area=area, account=account, sender_id=sender_id, phone=phone, now=now
    )
    if existing is not None:
        return FaultReport(FaultOutcome.DUPLICATE, existing, existing.outage)
    outage = outages.active_for_area(session, area.id, now, group_of(address))
    fields: dict[str, object] = {
        "address": address,
        "contact_phone": phone,
        "sender_id": sender_id,
        "channel": channel,
    }
    if outage is None:
        ticket = _new_ticket(
            session,
            settings,
            type=TicketType.FAULT,
            status=TicketStatus.RECEIVED,
            now=now,
            description=description,
            area=area,
            account=account,
            **fields,
        )
        session.flush()
        return FaultReport(FaultOutcome.CREATED, ticket, None)
    ticket = _new_ticket(
        session,
        settings,
        type=TicketType.FAULT,
        status=TicketStatus.MERGED,
        now=now,
        description=description,
        area=area,
        account=account,
        outage=outage,
        **fields,
    )
    # The crew is already on the outage: the commitment is its expected restoration.
    ticket.respond_due_at = None
    ticket.resolve_due_at = outage.expected_restore_at
    event = TicketEvent(
        ticket=ticket, status=TicketStatus.MERGED, at=now, actor="system", note=outage.outage_no
    )
    session.add(event)
    session.flush()
    return FaultReport(FaultOutcome.MERGED, ticket, outage)


def create_ticket(
    session: Session,
    settings: Settings,
    *,
    type: str,
    description: str,
    now: datetime,
    area: ServiceArea | None = None,
    address: str | None = None,
    contact_phone: str | None = None,
    account: Account | None = None,
    sender_id: str | None = None,
    channel: str | None = None,
    priority: str | None = None,
) -> Ticket:
    """Open a ticket of any type with the deadlines configured for it.

    Violation reports (举报) are anonymous: passing a conversation, account or phone for one
    raises AnonymityError, so a caller's mistake can never store the reporter's identity.
    """
    require_aware(now)
    if type not in TICKET_TYPES:
        raise ValueError(f"unknown ticket type {type!r}")
    if type == TicketType.VIOLATION and (sender_id or account is not None or contact_phone):
        raise AnonymityError("violation reports are anonymous: no sender, account or phone")
    ticket = _new_ticket(
        session,
        settings,
        type=type,
        status=TicketStatus.RECEIVED,
        now=now,
        description=description,
        area=area,
        account=account,
        address=address,
        contact_phone=_phone(contact_phone),
        sender_id=sender_id,
        channel=channel,
    )
    if priority is not None:
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}")
        ticket.priority = priority
    session.flush()
    return ticket
