"""Working complaints, violation reports, suggestions and praise in the back office: assign a
handler, record the contact and the reply, close with the customer's verdict.

Every step goes through the ticket's state machine (store/workflow.py) via `tickets.advance`,
so each change is a `TicketEvent` with who and when, and the notifier (bot/notifier.py) tells
the customer about it the way it does for every ticket event. A step the case cannot take now
raises `IllegalTransition` (the API's 409); a wrong value raises `ValueError` (422).

The complaint machine is received → assigned → contacted → investigating → replied →
(callback) → closed; the simple one (suggestion, praise, violation) received → processing →
closed, its contact and reply recorded as notes. Violation reports are anonymous: nobody to
contact, no verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import CaseVerdict, StaffUser, Ticket, TicketEvent, TicketStatus, TicketType
from store.roles import WORKS_CASES
from store.services import tickets
from store.sla import require_aware
from store.workflow import IllegalTransition, allowed_next

__all__ = [
    "FEEDBACK_TYPES",
    "IllegalTransition",
    "assign",
    "close",
    "contacted_at",
    "get_case",
    "handlers",
    "record_contact",
    "record_reply",
    "replied_at",
]

FEEDBACK_TYPES: Final[tuple[str, ...]] = (
    TicketType.COMPLAINT,
    TicketType.VIOLATION,
    TicketType.SUGGESTION,
    TicketType.PRAISE,
)
TEXT_MAX: Final = 2000
S = TicketStatus


def get_case(session: Session, ticket_no: str) -> Ticket | None:
    """The feedback case with this number; None for an unknown number or another ticket type
    (repairs are the dispatchers' business)."""
    ticket = tickets.get_by_no(session, ticket_no)
    return ticket if ticket is not None and ticket.type in FEEDBACK_TYPES else None


def handlers(session: Session) -> list[StaffUser]:
    """Who may handle a case: the staff with a case role (clerks, managers)."""
    stmt = select(StaffUser).where(StaffUser.role.in_(sorted(WORKS_CASES)))
    return list(session.scalars(stmt.order_by(StaffUser.username)))


def _first_at(ticket: Ticket, status: str) -> datetime | None:
    return next((e.at for e in ticket.events if e.status == status), None)


def contacted_at(ticket: Ticket) -> datetime | None:
    """When the customer was first contacted (the column, or the history of older cases)."""
    return ticket.contacted_at or _first_at(ticket, S.CONTACTED)


def replied_at(ticket: Ticket) -> datetime | None:
    return ticket.replied_at or _first_at(ticket, S.REPLIED)


def _text(value: str | None, what: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise ValueError(f"{what} is required")
    if len(text) > TEXT_MAX:
        raise ValueError(f"{what} is longer than {TEXT_MAX} characters")
    return text or None


def _open(ticket: Ticket) -> None:
    if ticket.closed_at is not None:
        raise IllegalTransition(f"case {ticket.ticket_no} is finished ({ticket.status})")


def _note(session: Session, ticket: Ticket, *, actor: str, now: datetime, note: str) -> None:
    """A step without a status change: an event with the current status (the notifier treats
    it as a note, not a change)."""
    session.add(TicketEvent(ticket=ticket, status=ticket.status, at=now, actor=actor, note=note))
    session.flush()


def _step(
    session: Session, ticket: Ticket, status: str, *, actor: str, now: datetime, note: str | None
) -> None:
    tickets.advance(session, ticket, status, actor=actor, now=now, note=note)


def assign(
    session: Session,
    ticket: Ticket,
    *,
    handler: str,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> Ticket:
    """Give the case to `handler` (a clerk or manager); again later to hand it over."""
    require_aware(now)
    _open(ticket)
    user = session.scalars(select(StaffUser).where(StaffUser.username == handler)).one_or_none()
    if user is None or user.role not in WORKS_CASES:
        raise ValueError(f"{handler!r} is not a member of staff who handles cases")
    note = _text(note, "note", required=False)
    text = f"处理人：{user.display_name}（{user.username}）" + (f"；{note}" if note else "")
    first = S.ASSIGNED if ticket.type == TicketType.COMPLAINT else S.PROCESSING
    if ticket.status == S.RECEIVED:
        _step(session, ticket, first, actor=actor, now=now, note=text)
    else:
        _note(session, ticket, actor=actor, now=now, note=text)
    ticket.handler = user.username
    session.flush()
    return ticket


def _require_handler(ticket: Ticket) -> None:
    if ticket.status == S.RECEIVED:
        raise IllegalTransition(f"case {ticket.ticket_no} has no handler yet: assign one first")


def record_contact(
    session: Session, ticket: Ticket, *, actor: str, now: datetime, note: str
) -> Ticket:
    """The handler reached the customer (complaints: within the contact commitment)."""
    require_aware(now)
    _open(ticket)
    text = _text(note, "note", required=True)
    assert text is not None
    if ticket.type == TicketType.VIOLATION:
        raise IllegalTransition("violation reports are anonymous: there is nobody to contact")
    _require_handler(ticket)
    if S.CONTACTED in allowed_next(ticket.type, ticket.status):
        _step(session, ticket, S.CONTACTED, actor=actor, now=now, note=text)
    else:
        _note(session, ticket, actor=actor, now=now, note=f"联系客户：{text}")
    if ticket.contacted_at is None:
        ticket.contacted_at = now
    session.flush()
    return ticket


def record_reply(
    session: Session, ticket: Ticket, *, actor: str, now: datetime, reply: str
) -> Ticket:
    """The station's answer (complaints: within the reply commitment); for a violation report,
    the result of the check."""
    require_aware(now)
    _open(ticket)
    text = _text(reply, "reply", required=True)
    _require_handler(ticket)
    if ticket.type == TicketType.COMPLAINT:
        if contacted_at(ticket) is None:
            raise IllegalTransition(f"case {ticket.ticket_no}: contact the customer first")
        if ticket.status == S.CONTACTED:
            _step(session, ticket, S.INVESTIGATING, actor=actor, now=now, note=None)
        if S.REPLIED not in allowed_next(ticket.type, ticket.status):
            raise IllegalTransition(
                f"case {ticket.ticket_no} cannot be answered while {ticket.status}"
            )
        _step(session, ticket, S.REPLIED, actor=actor, now=now, note=text)
    else:
        _note(session, ticket, actor=actor, now=now, note=f"答复：{text}")
    ticket.reply = text
    ticket.replied_at = now
    session.flush()
    return ticket


def _verdict(ticket: Ticket, verdict: str | None) -> str | None:
    if ticket.type == TicketType.VIOLATION:
        if verdict:
            raise ValueError("violation reports are anonymous: there is no verdict to record")
        return None
    if verdict is None or verdict == "":
        if ticket.type == TicketType.COMPLAINT:
            raise ValueError("a complaint is closed with the customer's verdict")
        return None
    if verdict not in tuple(CaseVerdict):
        raise ValueError(f"verdict must be one of {', '.join(CaseVerdict)}")
    return verdict


def close(
    session: Session,
    ticket: Ticket,
    *,
    actor: str,
    now: datetime,
    verdict: str | None,
    note: str | None = None,
) -> Ticket:
    """Close the answered case with the customer's verdict (satisfied or not)."""
    require_aware(now)
    _open(ticket)
    if replied_at(ticket) is None:
        raise IllegalTransition(f"case {ticket.ticket_no} has no reply yet: answer it first")
    chosen = _verdict(ticket, verdict)
    text = _text(note, "note", required=False)
    labels = {CaseVerdict.SATISFIED: "客户满意", CaseVerdict.UNSATISFIED: "客户不满意"}
    parts = [labels[CaseVerdict(chosen)]] if chosen else []
    parts += [text] if text else []
    _step(session, ticket, S.CLOSED, actor=actor, now=now, note="；".join(parts) or None)
    ticket.verdict = chosen
    session.flush()
    return ticket
