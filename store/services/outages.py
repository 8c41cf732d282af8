"""Known outages: a fault being repaired, or planned work announced in advance."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from store.models import Outage, OutageKind, Ticket, TicketEvent, TicketStatus
from store.sla import require_aware


def _active(now: datetime) -> ColumnElement[bool]:
    """Fault not restored yet, or planned work whose window covers `now`."""
    fault = and_(
        Outage.kind == OutageKind.FAULT, Outage.starts_at <= now, Outage.restored_at.is_(None)
    )
    planned = and_(
        Outage.kind == OutageKind.PLANNED,
        Outage.starts_at <= now,
        or_(Outage.expected_restore_at.is_(None), Outage.expected_restore_at > now),
        or_(Outage.restored_at.is_(None), Outage.restored_at > now),
    )
    return or_(fault, planned)


def get_by_no(session: Session, outage_no: str) -> Outage | None:
    value = (outage_no or "").strip().upper()
    return session.scalars(select(Outage).where(Outage.outage_no == value)).one_or_none()


def active_for_area(session: Session, area_id: int, now: datetime) -> Outage | None:
    """The outage affecting the area now (a fault first, then the latest planned one)."""
    require_aware(now)
    rows = session.scalars(
        select(Outage)
        .where(Outage.area_id == area_id, _active(now))
        .order_by(Outage.kind, Outage.starts_at.desc())
    )
    return rows.first()


def list_current_and_planned(
    session: Session, now: datetime, *, area_id: int | None = None, horizon_days: int = 7
) -> list[Outage]:
    """Outages happening now, then planned ones starting within `horizon_days`, by start."""
    require_aware(now)
    upcoming = and_(
        Outage.kind == OutageKind.PLANNED,
        Outage.starts_at > now,
        Outage.starts_at <= now + timedelta(days=horizon_days),
    )
    stmt = (
        select(Outage)
        .options(selectinload(Outage.area))
        .where(or_(_active(now), upcoming))
        .order_by(Outage.starts_at, Outage.id)
    )
    if area_id is not None:
        stmt = stmt.where(Outage.area_id == area_id)
    return list(session.scalars(stmt))


def mark_restored(
    session: Session, outage: Outage, *, now: datetime, actor: str = "system"
) -> list[Ticket]:
    """Record restoration and move every ticket merged into the outage to 'restored'; returns
    those tickets so their customers can be told."""
    require_aware(now)
    outage.restored_at = now
    tickets = list(
        session.scalars(
            select(Ticket).where(
                Ticket.outage_id == outage.id, Ticket.status == TicketStatus.MERGED
            )
        )
    )
    for ticket in tickets:
        ticket.status = TicketStatus.RESTORED
        session.add(TicketEvent(ticket=ticket, status=TicketStatus.RESTORED, at=now, actor=actor))
    session.flush()
    return tickets
