"""Bookkeeping of proactive notifications: the notifier's cursors and its delivery claims.

A notification is claimed (a `notification_deliveries` row, unique per source and event)
before it is sent, so however many notifier passes or gateway processes see the same event,
the customer hears about it once. The cursor keeps each pass small and, through its baseline,
keeps history from before the gateway's first start out of the customers' phones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from store.models import (
    DELIVERED_STATUSES,
    Application,
    ApplicationEvent,
    NotificationCursor,
    NotificationDelivery,
    NotificationSource,
    NotificationStatus,
    Ticket,
    TicketEvent,
)
from store.services.upserts import insert_ignore
from store.sla import require_aware

__all__ = [  # with the tables the notifier reads through it
    "Application",
    "ApplicationEvent",
    "TicketEvent",
    "advance_cursor",
    "already_claimed",
    "application_events_after",
    "claim",
    "ensure_cursor",
    "finish",
    "latest_event_id",
    "open_applications_with_sender",
    "open_tickets_with_sender",
    "ticket_events_after",
]

EVENT_TABLES: dict[str, type[TicketEvent] | type[ApplicationEvent]] = {
    NotificationSource.TICKET: TicketEvent,
    NotificationSource.APPLICATION: ApplicationEvent,
}


def latest_event_id(session: Session, source: str) -> int:
    """The newest event id of a source ('ticket' or 'application'); 0 when there is none."""
    model = EVENT_TABLES[source]
    return int(session.scalar(select(func.max(model.id))) or 0)


def ensure_cursor(session: Session, source: str, *, now: datetime) -> NotificationCursor:
    """The cursor of `source`, created at the newest event on first use (never rewound: when
    two processes start together, the first insert wins and both use it)."""
    require_aware(now)
    newest = latest_event_id(session, source) if source in EVENT_TABLES else 0
    insert_ignore(
        session,
        NotificationCursor,
        {"source": source, "baseline_event_id": newest, "last_event_id": newest, "since": now},
        [NotificationCursor.source],
    )
    cursor = session.get(NotificationCursor, source, populate_existing=True)
    if cursor is None:  # pragma: no cover - inserted or present just above
        raise RuntimeError(f"cursor {source} vanished")
    return cursor


def advance_cursor(session: Session, source: str, event_id: int) -> None:
    """Move the cursor forward to `event_id` (never backwards)."""
    stmt = (
        update(NotificationCursor)
        .where(NotificationCursor.source == source, NotificationCursor.last_event_id < event_id)
        .values(last_event_id=event_id)
    )
    session.execute(stmt.execution_options(synchronize_session=False))


def ticket_events_after(session: Session, after_id: int, limit: int = 200) -> list[TicketEvent]:
    """Ticket events with an id above `after_id`, oldest first, their tickets loaded."""
    stmt = (
        select(TicketEvent)
        .where(TicketEvent.id > after_id)
        .order_by(TicketEvent.id)
        .limit(limit)
        .options(selectinload(TicketEvent.ticket).selectinload(Ticket.events))
    )
    return list(session.scalars(stmt))


def application_events_after(
    session: Session, after_id: int, limit: int = 200
) -> list[ApplicationEvent]:
    stmt = (
        select(ApplicationEvent)
        .where(ApplicationEvent.id > after_id)
        .order_by(ApplicationEvent.id)
        .limit(limit)
        .options(selectinload(ApplicationEvent.application))
    )
    return list(session.scalars(stmt))


def open_tickets_with_sender(session: Session) -> list[Ticket]:
    """Unfinished tickets opened in a conversation (anonymous ones cannot be notified)."""
    stmt = (
        select(Ticket)
        .where(Ticket.closed_at.is_(None), Ticket.sender_id.is_not(None))
        .order_by(Ticket.id)
        .options(selectinload(Ticket.outage))
    )
    return list(session.scalars(stmt))


def open_applications_with_sender(session: Session) -> list[Application]:
    stmt = (
        select(Application)
        .where(Application.closed_at.is_(None), Application.sender_id.is_not(None))
        .order_by(Application.id)
        .options(selectinload(Application.events))
    )
    return list(session.scalars(stmt))


def already_claimed(session: Session, source: str, event_ids: Iterable[int]) -> set[int]:
    ids = list(event_ids)
    if not ids:
        return set()
    stmt = select(NotificationDelivery.event_id).where(
        NotificationDelivery.source == source, NotificationDelivery.event_id.in_(ids)
    )
    return set(session.scalars(stmt))


def claim(
    session: Session,
    *,
    source: str,
    event_id: int,
    conversation_id: str,
    now: datetime,
    status: str = NotificationStatus.CLAIMED,
) -> int | None:
    """Claim the notification of one event: its delivery id, or None when someone else (an
    earlier pass, another process) already has. Commit before sending."""
    require_aware(now)
    inserted = insert_ignore(
        session,
        NotificationDelivery,
        {
            "source": source,
            "event_id": event_id,
            "conversation_id": conversation_id,
            "status": status,
            "claimed_at": now,
        },
        [NotificationDelivery.source, NotificationDelivery.event_id],
    )
    if not inserted:
        return None
    stmt = select(NotificationDelivery.id).where(
        NotificationDelivery.source == source, NotificationDelivery.event_id == event_id
    )
    return int(session.scalars(stmt).one())


def finish(session: Session, delivery_id: int, status: str, *, now: datetime) -> None:
    """Record how a claimed notification ended: 'sent', 'stored' (no push channel: kept in the
    transcript), 'failed' or 'skipped'."""
    require_aware(now)
    values: dict[str, object] = {"status": status}
    if status in DELIVERED_STATUSES:
        values["delivered_at"] = now
    stmt = update(NotificationDelivery).where(NotificationDelivery.id == delivery_id).values(values)
    session.execute(stmt.execution_options(synchronize_session=False))
