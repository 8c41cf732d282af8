"""Proactive notifications: the claim on each one sent, and how far the notifier has read."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, check_in, values


class NotificationSource(StrEnum):
    """'ticket'/'application': event_id is a TicketEvent/ApplicationEvent id; the '*_overdue'
    sources: event_id is the ticket/application id (one overdue notice each)."""

    TICKET = "ticket"
    APPLICATION = "application"
    TICKET_OVERDUE = "ticket_overdue"
    APPLICATION_OVERDUE = "application_overdue"


class NotificationStatus(StrEnum):
    CLAIMED = "claimed"
    """Inserted before sending: nobody else sends it."""
    SENT = "sent"
    STORED = "stored"
    """No push channel: kept in the transcript."""
    FAILED = "failed"
    SKIPPED = "skipped"


NOTIFICATION_SOURCES = values(NotificationSource)
NOTIFICATION_STATUSES = values(NotificationStatus)
DELIVERED_STATUSES = (NotificationStatus.SENT, NotificationStatus.STORED)
"""The customer was told (or will read it in the transcript)."""


class NotificationDelivery(Base):
    """The claim on one proactive notification: inserted before sending, unique per event, so
    two notifier passes or two gateway processes never tell the customer twice."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        CheckConstraint(check_in("source", NotificationSource), name="source"),
        CheckConstraint(check_in("status", NotificationStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    event_id: Mapped[int]
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    """The `<channel>:<chat_id>` string (the ticket's sender_id); the conversation row may not
    exist yet."""
    status: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class NotificationCursor(Base):
    """How far the notifier has read each event table, and where it started.

    `baseline_event_id` is the newest event when the gateway first ran: nothing at or below it
    is ever notified (history the customers already know).
    """

    __tablename__ = "notification_cursors"

    source: Mapped[str] = mapped_column(String(24), primary_key=True)
    baseline_event_id: Mapped[int]
    last_event_id: Mapped[int]
    since: Mapped[datetime]
    """When the cursor was created: only deadlines passing after it raise overdue notices."""
