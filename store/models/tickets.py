"""Outages and tickets (repairs, hazards, complaints, ...) with their status history.

Which status may follow which, per ticket type, is store/workflow.py; their wording is
conf/labels.yml.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.accounts import Account, ServiceArea
from store.models.base import Base, check_in
from store.models.crews import CALLBACK_RESULTS, Crew


class OutageKind(StrEnum):
    PLANNED = "planned"
    TEMPORARY = "temporary"
    """Announced work at short notice (the commitment: 24 hours ahead)."""
    FAULT = "fault"


class TicketType(StrEnum):
    FAULT = "fault"
    HAZARD = "hazard"
    METER_TEST = "meter_test"
    COMPLAINT = "complaint"
    VIOLATION = "violation"
    SUGGESTION = "suggestion"
    PRAISE = "praise"
    BILL_CHECK = "bill_check"
    RECONNECT = "reconnect"
    CALLBACK = "callback"
    """The customer asked to be phoned back."""


class TicketPriority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TicketStatus(StrEnum):
    """Every status of every ticket type (store/workflow.py says which type uses which)."""

    RECEIVED = "received"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    REPAIRING = "repairing"
    RESTORED = "restored"
    AWAITING_CALLBACK = "awaiting_callback"
    MERGED = "merged"
    """Folded into a known outage: restored with it."""
    CUSTOMER_SIDE = "customer_side"
    MADE_SAFE = "made_safe"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    INVESTIGATING = "investigating"
    REPLIED = "replied"
    CALLBACK = "callback"
    ESCALATED = "escalated"
    PROCESSING = "processing"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class CaseVerdict(StrEnum):
    """The customer's verdict on how a complaint (or other feedback) was handled."""

    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"


class Outage(Base):
    __tablename__ = "outages"
    __table_args__ = (
        CheckConstraint(check_in("kind", OutageKind), name="kind"),
        Index("ix_outages_area_starts", "area_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_no: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"))
    cause: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    expected_restore_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    notice_at: Mapped[datetime | None]
    """When customers were told (planned outages: the commitment is days ahead)."""
    # published by staff (store/outages/, migration 0014): the other areas are outage_areas
    # (store/models/outage_notices.py); area_id stays the first of them
    cause_en: Mapped[str | None] = mapped_column(Text)
    """The reason in English, for customers who write English (else they read `cause`)."""
    advice: Mapped[str | None] = mapped_column(Text)
    """What customers should do (store water, unplug appliances, ...)."""
    advice_en: Mapped[str | None] = mapped_column(Text)
    feeder: Mapped[str | None] = mapped_column(String(16))
    """The feeder code (conf/outages.yml) when it was published for a whole feeder."""
    published_by: Mapped[str | None] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None]
    notice_due_at: Mapped[datetime | None]
    """The latest moment the commitment allowed for telling customers (planned, temporary)."""
    notice_missed: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Published later than the commitment asked: counts in the service-quality figures."""

    area: Mapped[ServiceArea] = relationship()


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(check_in("priority", TicketPriority), name="priority"),
        CheckConstraint(check_in("callback_result", CALLBACK_RESULTS), name="callback_result"),
        Index("ix_tickets_area_type_created", "area_id", "type", "created_at"),
        Index("ix_tickets_account_closed", "account_id", "closed_at"),
        Index("ix_tickets_sender_closed", "sender_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(16), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("service_areas.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    sender_id: Mapped[str | None] = mapped_column(String(255))
    """The conversation that opened it; None for anonymous reports."""
    channel: Mapped[str | None] = mapped_column(String(32))
    contact_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    """The category staff chose (conf/quality.yml `categories` of the ticket's kind); None until
    someone does, when the service-quality figures guess it from the description."""
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id"), index=True)
    crew_id: Mapped[int | None] = mapped_column(
        ForeignKey("crews.id", ondelete="SET NULL"), index=True
    )
    """The crew sent (store/models/crews.py); None until a dispatcher assigns one."""
    callback_result: Mapped[str | None] = mapped_column(String(24))
    """The follow-up call's answer (CallbackResult), once made."""
    respond_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    escalated: Mapped[bool] = mapped_column(default=False)
    # the back office's case work (complaints, reports, suggestions, praise): who handles it,
    # when the customer was contacted and answered, and their verdict at closing
    # (store/services/case_feedback.py; the values are checked there, see CaseVerdict)
    handler: Mapped[str | None] = mapped_column(String(64))
    """The staff username handling the case."""
    contacted_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    reply: Mapped[str | None] = mapped_column(Text)
    """What the station answered the customer."""
    verdict: Mapped[str | None] = mapped_column(String(16))
    """The customer's verdict when the case was closed (CaseVerdict)."""

    area: Mapped[ServiceArea | None] = relationship()
    account: Mapped[Account | None] = relationship()
    outage: Mapped[Outage | None] = relationship()
    crew: Mapped[Crew | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket",
        order_by="(TicketEvent.at, TicketEvent.id)",
        cascade="all, delete-orphan",
    )


class TicketEvent(Base):
    """One entry of a ticket's status history (also notes without a status change)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
