"""Reading repair work orders for the back office: which tickets a staff member may see, the
dispatcher's filtered list with a count per status, and the crew's queue.

A crew member sees only the tickets of their own crew; any other ticket is "not found" to them,
exactly like a ticket that does not exist. Dispatchers and managers see every repair ticket
(fault and hazard; the other work orders are the clerks').

The deadline that applies now is computed in SQL (`deadline_expr`) so the list can filter on
overdue and due-soon; it follows store/services/ticket_views.current_deadline, which a test
holds it to, row by row, over the demo station.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVarTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from store.models import Conversation, Outage, ServiceArea, StaffUser, Ticket, TicketStatus
from store.roles import StaffRole
from store.services.dispatch import REPAIR_TYPES
from store.sla import require_aware
from store.workflow import AWAITING_RESPONSE, TERMINAL_STATUSES

__all__ = [
    "DUE_CHOICES",
    "NO_DEADLINE",
    "Ticket",
    "TicketFilter",
    "TicketPage",
    "Viewer",
    "areas",
    "conversation_handle",
    "crew_queue",
    "deadline_expr",
    "deadline_of",
    "list_tickets",
    "viewer_for",
    "visible_ticket",
]

S = TicketStatus
NO_DEADLINE: frozenset[str] = frozenset(
    {S.RESTORED, S.AWAITING_CALLBACK, S.MADE_SAFE, S.REPLIED, S.CALLBACK, S.CUSTOMER_SIDE}
)
"""Statuses with no commitment running (as store/services/ticket_views.py)."""
Due = Literal["overdue", "due_soon", "on_time"]
DUE_CHOICES: tuple[str, ...] = ("overdue", "due_soon", "on_time")
_OUTAGE = aliased(Outage)


@dataclass(frozen=True)
class Viewer:
    """Who reads: a crew member is limited to `crew_id` (None: in no crew, sees nothing)."""

    user_id: int
    role: str

    crew_id: int | None = None

    @property
    def crew_only(self) -> bool:
        return self.role == StaffRole.CREW


def viewer_for(session: Session, user_id: int, role: str) -> Viewer:
    """The viewer of a logged-in staff member (their crew read fresh: a move takes effect at
    once, not at their next login)."""
    crew_id = session.scalar(select(StaffUser.crew_id).where(StaffUser.id == user_id))
    return Viewer(user_id=user_id, role=role, crew_id=crew_id)


Ts = TypeVarTuple("Ts")


def _scope(stmt: Select[*Ts], viewer: Viewer) -> Select[*Ts]:
    stmt = stmt.where(Ticket.type.in_(REPAIR_TYPES))
    if viewer.crew_only:
        # a crew member in no crew sees nothing (crew_id = NULL is never true)
        stmt = stmt.where(Ticket.crew_id == viewer.crew_id)
    return stmt


def visible_ticket(session: Session, viewer: Viewer, ticket_no: str) -> Ticket | None:
    """The repair ticket with this number if `viewer` may see it, else None (never saying
    whether it exists)."""
    stmt = _scope(select(Ticket).where(Ticket.ticket_no == ticket_no.strip().upper()), viewer)
    return session.scalars(stmt).one_or_none()


def deadline_expr() -> ColumnElement[datetime | None]:
    """The deadline that applies now, as SQL over tickets outer-joined with `_OUTAGE`."""
    return case(
        (or_(Ticket.closed_at.is_not(None), Ticket.status.in_(NO_DEADLINE)), None),
        (
            Ticket.status == S.MERGED,
            case(
                (Ticket.outage_id.is_not(None), _OUTAGE.expected_restore_at),
                else_=Ticket.resolve_due_at,
            ),
        ),
        (
            and_(Ticket.status.in_(AWAITING_RESPONSE), Ticket.respond_due_at.is_not(None)),
            Ticket.respond_due_at,
        ),
        else_=Ticket.resolve_due_at,
    )


@dataclass(frozen=True)
class TicketFilter:
    statuses: tuple[str, ...] = ()
    type: str | None = None
    area_id: int | None = None
    crew_id: int | None = None
    unassigned: bool = False
    due: str | None = None
    merged: bool | None = None
    """True: merged into an outage only; False: not merged."""
    open_only: bool = False
    limit: int = 50
    offset: int = 0


@dataclass
class TicketPage:
    tickets: list[tuple[Ticket, datetime | None]]
    """Each ticket with the deadline that applies now."""
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    """Per status, over the same filter except the status."""


def _filtered(
    viewer: Viewer, f: TicketFilter, now: datetime, due_soon: timedelta
) -> Select[Ticket, datetime | None]:
    deadline = deadline_expr()
    stmt = _scope(
        select(Ticket, deadline.label("deadline")).outerjoin(
            _OUTAGE, _OUTAGE.id == Ticket.outage_id
        ),
        viewer,
    )
    if f.type:
        stmt = stmt.where(Ticket.type == f.type)
    if f.area_id is not None:
        stmt = stmt.where(Ticket.area_id == f.area_id)
    if f.crew_id is not None:
        stmt = stmt.where(Ticket.crew_id == f.crew_id)
    if f.unassigned:
        stmt = stmt.where(Ticket.crew_id.is_(None))
    if f.merged is not None:
        stmt = stmt.where(Ticket.outage_id.is_not(None) if f.merged else Ticket.outage_id.is_(None))
    if f.open_only:
        stmt = stmt.where(Ticket.status.not_in(TERMINAL_STATUSES))
    if f.due == "overdue":
        stmt = stmt.where(deadline.is_not(None), deadline < now)
    elif f.due == "due_soon":
        stmt = stmt.where(deadline >= now, deadline < now + due_soon)
    elif f.due == "on_time":
        stmt = stmt.where(or_(deadline.is_(None), deadline >= now))
    return stmt


def list_tickets(
    session: Session, viewer: Viewer, f: TicketFilter, *, now: datetime, due_soon: timedelta
) -> TicketPage:
    """One page of the filtered list (open ones first, the most urgent deadline first), its
    total and the count per status."""
    require_aware(now)
    base = _filtered(viewer, f, now, due_soon)
    counted = base.with_only_columns(Ticket.status, func.count()).group_by(Ticket.status)
    counts = {str(status): int(n) for status, n in session.execute(counted)}
    if f.statuses:
        base = base.where(Ticket.status.in_(f.statuses))
    total = sum(n for s, n in counts.items() if not f.statuses or s in f.statuses)
    finished = case((Ticket.status.in_(TERMINAL_STATUSES), 1), else_=0)
    deadline = deadline_expr()
    page = (
        base.order_by(
            finished, deadline.is_(None), deadline, Ticket.created_at.desc(), Ticket.id.desc()
        )
        .limit(f.limit)
        .offset(f.offset)
        .options(selectinload(Ticket.area), selectinload(Ticket.crew))
    )
    rows = [(row[0], row[1]) for row in session.execute(page)]
    return TicketPage(tickets=rows, total=total, counts=counts)


def crew_queue(
    session: Session, viewer: Viewer, *, now: datetime
) -> list[tuple[Ticket, datetime | None]]:
    """A crew's unfinished tickets, the next one to work first (the nearest deadline, then the
    oldest); restored ones waiting for the callback are the dispatcher's, not listed."""
    require_aware(now)
    deadline = deadline_expr()
    waiting = (*TERMINAL_STATUSES, S.RESTORED, S.AWAITING_CALLBACK, S.MADE_SAFE, S.CUSTOMER_SIDE)
    stmt = (
        _scope(
            select(Ticket, deadline.label("deadline")).outerjoin(
                _OUTAGE, _OUTAGE.id == Ticket.outage_id
            ),
            viewer,
        )
        .where(Ticket.crew_id.is_not(None), Ticket.status.not_in(waiting))
        .order_by(deadline.is_(None), deadline, Ticket.created_at, Ticket.id)
        .options(selectinload(Ticket.area), selectinload(Ticket.crew))
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def deadline_of(session: Session, ticket: Ticket) -> datetime | None:
    """The deadline that applies to one ticket now (the list's rule)."""
    stmt = (
        select(deadline_expr())
        .select_from(Ticket)
        .outerjoin(_OUTAGE, _OUTAGE.id == Ticket.outage_id)
        .where(Ticket.id == ticket.id)
    )
    return session.scalar(stmt)


def conversation_handle(session: Session, ticket: Ticket) -> int | None:
    """The console handle of the conversation that opened the ticket (None: none)."""
    if not ticket.sender_id:
        return None
    stmt = select(Conversation.id).where(Conversation.conversation_id == ticket.sender_id)
    return session.scalar(stmt)


def areas(session: Session) -> list[ServiceArea]:
    return list(session.scalars(select(ServiceArea).order_by(ServiceArea.id)))
