"""Known outages: a fault being repaired, or planned (or temporary) work announced in advance.

An outage covers the areas of its `outage_areas` rows (store/outages/, published by staff), a
row with a group (组) only that group; an outage without such rows (older ones, the demo's)
covers its one `area_id`. Cancelled outages are never current.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from store.models import Outage, OutageArea, OutageKind, Ticket, TicketEvent, TicketStatus
from store.sla import require_aware

ANNOUNCED = (OutageKind.PLANNED, OutageKind.TEMPORARY)


def _active(now: datetime) -> ColumnElement[bool]:
    """Fault not restored yet, or announced work whose window covers `now`; not cancelled."""
    fault = and_(
        Outage.kind == OutageKind.FAULT, Outage.starts_at <= now, Outage.restored_at.is_(None)
    )
    planned = and_(
        Outage.kind.in_(ANNOUNCED),
        Outage.starts_at <= now,
        or_(Outage.expected_restore_at.is_(None), Outage.expected_restore_at > now),
        or_(Outage.restored_at.is_(None), Outage.restored_at > now),
    )
    return and_(or_(fault, planned), Outage.cancelled_at.is_(None))


def covers(
    area_id: int, group_no: int | None = None, *, any_group: bool = False
) -> ColumnElement[bool]:
    """The outage covers the area: for a customer of group `group_no` (None when unknown: only
    an outage of the whole area is certain to be theirs), or anywhere in it (`any_group`)."""
    rows = select(OutageArea.id).where(OutageArea.outage_id == Outage.id)
    group: ColumnElement[bool] = OutageArea.group_no.is_(None)
    if any_group:
        group = OutageArea.area_id == area_id
    elif group_no is not None:
        group = or_(group, OutageArea.group_no == group_no)
    listed = exists(rows.where(OutageArea.area_id == area_id, group))
    legacy = and_(Outage.area_id == area_id, ~exists(rows))
    return or_(listed, legacy)


def get_by_no(session: Session, outage_no: str) -> Outage | None:
    value = (outage_no or "").strip().upper()
    return session.scalars(select(Outage).where(Outage.outage_no == value)).one_or_none()


def active_for_area(
    session: Session, area_id: int, now: datetime, group_no: int | None = None
) -> Outage | None:
    """The outage affecting the area (the customer's group, when known) now: a fault first,
    then the latest announced one."""
    require_aware(now)
    rows = session.scalars(
        select(Outage)
        .where(covers(area_id, group_no), _active(now))
        .order_by(Outage.kind != OutageKind.FAULT, Outage.starts_at.desc(), Outage.id.desc())
    )
    return rows.first()


def list_current_and_planned(
    session: Session, now: datetime, *, area_id: int | None = None, horizon_days: int = 7
) -> list[Outage]:
    """Outages happening now, then announced ones starting within `horizon_days`, by start."""
    require_aware(now)
    upcoming = and_(
        Outage.kind.in_(ANNOUNCED),
        Outage.starts_at > now,
        Outage.starts_at <= now + timedelta(days=horizon_days),
        Outage.cancelled_at.is_(None),
    )
    stmt = (
        select(Outage)
        .options(selectinload(Outage.area))
        .where(or_(_active(now), upcoming))
        .order_by(Outage.starts_at, Outage.id)
    )
    if area_id is not None:
        stmt = stmt.where(covers(area_id, any_group=True))
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
