"""What dispatchers and crews do to a repair ticket: assign a crew, record each step (dispatched,
accepted, arrived, restored, closed, ...), notes, merging into a known outage or splitting out,
and the follow-up call (回访).

Every change is a ticket event with its actor and time, written the way store/services/
tickets.py writes them, so the gateway's notifier tells the customer about each status change
once; notes, photos and reassignments keep the status and are not announced. A step's time is
"now" unless given; a given time must lie within conf/dispatch.yml's limits and not before
the ticket's previous step (a crew that was offline records its arrival afterwards).

Who may do what: dispatchers and managers everything; a crew member only their own crew's
tickets (the caller has checked that), and only the steps on site (CREW_STEPS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from store.config import Label, Settings
from store.configuration.dispatch import StepTimeLimits
from store.models import CallbackResult, Crew, Outage, Ticket, TicketEvent, TicketStatus, TicketType
from store.roles import DISPATCHES
from store.services import tickets
from store.sla import require_aware, ticket_deadlines
from store.workflow import TERMINAL_STATUSES, IllegalTransition, allowed_next

__all__ = [
    "CREW_STEPS",
    "DISPATCHER_STEPS",
    "REASSIGNABLE",
    "REPAIR_TYPES",
    "Actor",
    "DispatchError",
    "StepRefused",
    "StepTimeError",
    "add_note",
    "allowed_steps",
    "assign",
    "callback",
    "merge",
    "record_step",
    "split",
    "step_time",
]

S = TicketStatus
REPAIR_TYPES: frozenset[str] = frozenset({TicketType.FAULT, TicketType.HAZARD})
"""The work orders of the dispatch desk (complaints and the rest are the clerks')."""
CREW_STEPS: frozenset[str] = frozenset(
    {S.ACCEPTED, S.ON_SITE, S.REPAIRING, S.RESTORED, S.CUSTOMER_SIDE, S.MADE_SAFE}
)
"""What a crew records on site."""
DISPATCHER_STEPS: frozenset[str] = frozenset(
    {*CREW_STEPS, S.DISPATCHED, S.AWAITING_CALLBACK, S.CLOSED, S.CANCELLED}
)
"""Recorded as a plain step; merging (merge), splitting (split) and the callback have their own
actions because they carry more than a status."""
REASSIGNABLE: frozenset[str] = frozenset({S.RECEIVED, S.DISPATCHED, S.ACCEPTED})
"""A crew may be (re)assigned until it is on site."""
CALLBACK_FROM: frozenset[str] = frozenset({S.RESTORED, S.AWAITING_CALLBACK, S.CUSTOMER_SIDE})


class DispatchError(ValueError):
    """A request that cannot be done as asked (422): unknown crew, inactive crew, bad value."""


class StepTimeError(DispatchError):
    """A step's time outside the limits (future, too far back, before the previous step)."""


class StepRefused(IllegalTransition):
    """The ticket's state machine (or the caller's role) does not allow this step now (409);
    `allowed` is what the caller may do instead."""

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


@dataclass(frozen=True)
class Actor:
    """Who acts: their username (the events' actor) and role."""

    username: str
    role: str

    @property
    def dispatches(self) -> bool:
        return self.role in DISPATCHES


def allowed_steps(ticket: Ticket, actor: Actor) -> tuple[str, ...]:
    """The plain steps this actor may record on the ticket now (state machine ∩ role)."""
    mine = DISPATCHER_STEPS if actor.dispatches else CREW_STEPS
    return tuple(s for s in allowed_next(ticket.type, ticket.status) if s in mine)


def step_time(
    limits: StepTimeLimits, ticket: Ticket, at: datetime | None, *, now: datetime
) -> datetime:
    """The time to record: `now`, or `at` when it is within the limits."""
    require_aware(now)
    if at is None:
        return now
    require_aware(at, "at")
    if at > now + limits.future_tolerance:
        raise StepTimeError("时间不能晚于现在 (the time is in the future)")
    if at < now - limits.max_back:
        hours = int(limits.max_back.total_seconds() // 3600)
        raise StepTimeError(f"时间不能早于 {hours} 小时前 (more than {hours} hours back)")
    previous = max((e.at for e in ticket.events), default=None)
    if previous is not None and at < previous:
        raise StepTimeError("时间不能早于上一步 (before the ticket's previous step)")
    return at


def _event(
    session: Session, ticket: Ticket, actor: Actor, at: datetime, note: str | None
) -> TicketEvent:
    """A note in the history: the status unchanged (the notifier stays silent)."""
    event = TicketEvent(ticket=ticket, status=ticket.status, at=at, actor=actor.username, note=note)
    session.add(event)
    session.flush()
    return event


def _refuse(ticket: Ticket, actor: Actor, wanted: str) -> StepRefused:
    allowed = allowed_steps(ticket, actor)
    return StepRefused(
        f"ticket {ticket.ticket_no} is {ticket.status}: {wanted} is not possible now; "
        f"allowed: {', '.join(allowed) or 'none'}",
        allowed,
    )


def record_step(
    session: Session,
    ticket: Ticket,
    status: str,
    *,
    actor: Actor,
    limits: StepTimeLimits,
    now: datetime,
    at: datetime | None = None,
    note: str | None = None,
) -> TicketEvent:
    """Move the ticket on by one step (StepRefused when not allowed for this actor now)."""
    if status not in allowed_steps(ticket, actor):
        raise _refuse(ticket, actor, status)
    if status == S.DISPATCHED and ticket.crew_id is None:
        raise DispatchError("先指派抢修班组再派单 (assign a crew before dispatching)")
    when = step_time(limits, ticket, at, now=now)
    return tickets.advance(session, ticket, status, actor=actor.username, now=when, note=note)


def assign(
    session: Session,
    ticket: Ticket,
    crew: Crew,
    *,
    actor: Actor,
    limits: StepTimeLimits,
    now: datetime,
    at: datetime | None = None,
    note: str | None = None,
) -> TicketEvent:
    """Send `crew`: a received ticket is dispatched to it (派单); a dispatched or accepted one
    goes to another crew (改派, the status stays)."""
    if not crew.active:
        raise DispatchError(f"班组 {crew.name} 已停用 (the crew is inactive)")
    if ticket.status not in REASSIGNABLE or (
        ticket.status == S.RECEIVED and S.DISPATCHED not in allowed_next(ticket.type, S.RECEIVED)
    ):
        raise _refuse(ticket, actor, "assign")
    if ticket.crew_id == crew.id:
        raise StepRefused(f"ticket {ticket.ticket_no} is already {crew.name}'s", ())
    when = step_time(limits, ticket, at, now=now)
    before = ticket.crew.name if ticket.crew is not None else None
    ticket.crew = crew
    text = f"派给 {crew.name}" if before is None else f"改派：{before} → {crew.name}"
    text = f"{text}；{note}" if note else text
    if ticket.status == S.RECEIVED:
        return tickets.advance(
            session, ticket, S.DISPATCHED, actor=actor.username, now=when, note=text
        )
    return _event(session, ticket, actor, when, text)


def add_note(
    session: Session, ticket: Ticket, text: str, *, actor: Actor, now: datetime
) -> TicketEvent:
    """A note in the ticket's history (what the crew found, a call to the customer, ...)."""
    require_aware(now)
    if ticket.closed_at is not None:
        raise StepRefused(f"ticket {ticket.ticket_no} is finished ({ticket.status})", ())
    return _event(session, ticket, actor, now, text)


def merge(
    session: Session,
    ticket: Ticket,
    outage: Outage,
    *,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> TicketEvent:
    """Fold the ticket into a known outage not yet restored: the customer is told when that
    outage ends, and its expected restoration becomes the ticket's commitment."""
    require_aware(now)
    if outage.restored_at is not None:
        raise DispatchError(f"停电事件 {outage.outage_no} 已恢复 (the outage is over)")
    if S.MERGED not in allowed_next(ticket.type, ticket.status):
        raise _refuse(ticket, actor, "merge")
    ticket.outage = outage
    ticket.respond_due_at = None
    ticket.resolve_due_at = outage.expected_restore_at
    text = f"并入停电事件 {outage.outage_no}" + (f"；{note}" if note else "")
    return tickets.advance(session, ticket, S.MERGED, actor=actor.username, now=now, note=text)


def split(
    session: Session,
    settings: Settings,
    ticket: Ticket,
    *,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> TicketEvent:
    """Take a merged ticket out of its outage (a fault of its own after all): it is a repair
    again, received (or dispatched when a crew is assigned), with the commitments it would
    have had from the customer's report. Not a step of the state machine but its correction."""
    require_aware(now)
    if ticket.status != S.MERGED or ticket.outage is None:
        raise StepRefused(f"ticket {ticket.ticket_no} is not merged into an outage", ())
    outage_no = ticket.outage.outage_no
    deadlines = ticket_deadlines(
        settings.commitments,
        settings.calendar,
        settings.tz,
        ticket_type=ticket.type,
        area_kind=ticket.area.kind if ticket.area else None,
        now=ticket.created_at,
    )
    ticket.outage = None
    ticket.respond_due_at = deadlines.respond_due_at
    ticket.resolve_due_at = deadlines.resolve_due_at
    ticket.status = S.DISPATCHED if ticket.crew_id is not None else S.RECEIVED
    text = f"从停电事件 {outage_no} 拆分为单独抢修" + (f"；{note}" if note else "")
    event = TicketEvent(
        ticket=ticket, status=ticket.status, at=now, actor=actor.username, note=text
    )
    session.add(event)
    session.flush()
    return event


def callback(
    session: Session,
    ticket: Ticket,
    result: str,
    *,
    actor: Actor,
    labels: Mapping[str, Label],
    now: datetime,
    note: str | None = None,
) -> TicketEvent:
    """The follow-up call's result (worded by `labels`, conf/dispatch.yml): any answer closes
    the ticket with it; nobody answering leaves it waiting for another try."""
    require_aware(now)
    if result not in labels:
        raise DispatchError(f"result must be one of {', '.join(labels)}")
    if ticket.status not in CALLBACK_FROM:
        raise _refuse(ticket, actor, "callback")
    text = f"回访：{labels[result].zh}" + (f"；{note}" if note else "")
    if result == CallbackResult.UNREACHABLE:
        if ticket.status == S.AWAITING_CALLBACK:
            return _event(session, ticket, actor, now, text)
        if S.AWAITING_CALLBACK not in allowed_next(ticket.type, ticket.status):
            raise _refuse(ticket, actor, "callback")
        return tickets.advance(
            session, ticket, S.AWAITING_CALLBACK, actor=actor.username, now=now, note=text
        )
    ticket.callback_result = result
    return tickets.advance(session, ticket, S.CLOSED, actor=actor.username, now=now, note=text)


def is_open(ticket: Ticket) -> bool:
    return ticket.status not in TERMINAL_STATUSES
