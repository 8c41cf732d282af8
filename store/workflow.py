"""Ticket state machines: which status may follow which, per ticket type.

Kept in code, not configuration, because the services and the reports depend on the meaning of
each status; their wording lives in conf/labels.yml. The diagrams are in docs/state-machines.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from store.models.accounts import AreaKind
from store.models.base import values
from store.models.tickets import TicketPriority, TicketStatus, TicketType

__all__ = [
    "AREA_KINDS",
    "AWAITING_RESPONSE",
    "FAULT_ACTIVE_STATUSES",
    "PRIORITIES",
    "TERMINAL_STATUSES",
    "TICKET_TYPES",
    "TRANSITIONS",
    "IllegalTransition",
    "TicketStatus",
    "TicketType",
    "all_statuses",
    "allowed_next",
    "check_transition",
]

TICKET_TYPES: Final[tuple[str, ...]] = values(TicketType)
PRIORITIES: Final[tuple[str, ...]] = values(TicketPriority)
AREA_KINDS: Final[tuple[str, ...]] = values(AreaKind)

S = TicketStatus
_Table = Mapping[str, tuple[TicketStatus, ...]]

_FAULT: Final[_Table] = {
    S.RECEIVED: (S.DISPATCHED, S.MERGED, S.CUSTOMER_SIDE, S.CANCELLED),
    S.DISPATCHED: (S.ACCEPTED, S.MERGED, S.CUSTOMER_SIDE, S.CANCELLED),
    S.ACCEPTED: (S.ON_SITE, S.MERGED, S.CANCELLED),
    S.ON_SITE: (S.REPAIRING, S.RESTORED, S.CUSTOMER_SIDE),
    S.REPAIRING: (S.RESTORED,),
    S.RESTORED: (S.AWAITING_CALLBACK, S.CLOSED),
    S.AWAITING_CALLBACK: (S.CLOSED,),
    S.MERGED: (S.RESTORED, S.CLOSED),
    S.CUSTOMER_SIDE: (S.CLOSED,),
    S.CANCELLED: (),
    S.CLOSED: (),
}
_HAZARD: Final[_Table] = {
    S.RECEIVED: (S.DISPATCHED, S.CANCELLED),
    S.DISPATCHED: (S.ON_SITE, S.CANCELLED),
    S.ON_SITE: (S.MADE_SAFE,),
    S.MADE_SAFE: (S.CLOSED,),
    S.CANCELLED: (),
    S.CLOSED: (),
}
_COMPLAINT: Final[_Table] = {
    S.RECEIVED: (S.ASSIGNED, S.ESCALATED, S.CANCELLED),
    S.ASSIGNED: (S.CONTACTED, S.ESCALATED),
    S.CONTACTED: (S.INVESTIGATING, S.ESCALATED),
    S.INVESTIGATING: (S.REPLIED, S.ESCALATED),
    S.REPLIED: (S.CALLBACK, S.CLOSED, S.ESCALATED),
    S.CALLBACK: (S.CLOSED, S.ESCALATED),
    S.ESCALATED: (S.INVESTIGATING, S.REPLIED, S.CLOSED),
    S.CANCELLED: (),
    S.CLOSED: (),
}
_SIMPLE: Final[_Table] = {
    S.RECEIVED: (S.PROCESSING, S.CLOSED, S.CANCELLED),
    S.PROCESSING: (S.CLOSED, S.CANCELLED),
    S.CANCELLED: (),
    S.CLOSED: (),
}
_OWN_MACHINES: Final[Mapping[str, _Table]] = {
    TicketType.FAULT: _FAULT,
    TicketType.HAZARD: _HAZARD,
    TicketType.COMPLAINT: _COMPLAINT,
}

TRANSITIONS: Final[Mapping[str, _Table]] = {
    **_OWN_MACHINES,
    **{t: _SIMPLE for t in TicketType if t not in _OWN_MACHINES},
}

#: Statuses after which a ticket is finished (closed_at is set).
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({S.CLOSED, S.CANCELLED})

#: Fault statuses in which power is not (yet) known to be back: a new report of the same fault
#: by the same customer is a duplicate only while the ticket is in one of these.
FAULT_ACTIVE_STATUSES: Final[tuple[str, ...]] = (
    S.RECEIVED,
    S.DISPATCHED,
    S.ACCEPTED,
    S.ON_SITE,
    S.REPAIRING,
    S.MERGED,
)

#: Statuses before the crew (or the staff member) has responded: the response deadline applies.
AWAITING_RESPONSE: Final[frozenset[str]] = frozenset(
    {S.RECEIVED, S.DISPATCHED, S.ACCEPTED, S.ASSIGNED}
)


class IllegalTransition(ValueError):
    """A status or stage change that the state machine does not allow."""


def all_statuses() -> frozenset[str]:
    """Every status of every ticket type (labels.yml must name each of them)."""
    return frozenset(s for table in TRANSITIONS.values() for s in table)


def allowed_next(ticket_type: str, status: str) -> tuple[str, ...]:
    """The statuses a ticket of this type may move to from `status`."""
    table = TRANSITIONS.get(ticket_type)
    if table is None:
        raise ValueError(f"unknown ticket type {str(ticket_type)!r}")
    return table.get(status, ())


def check_transition(ticket_type: str, current: str, new: str) -> None:
    """Raise IllegalTransition unless `current` → `new` is allowed for this type."""
    if new not in allowed_next(ticket_type, current):
        raise IllegalTransition(
            f"{ticket_type} ticket cannot go from {str(current)!r} to {str(new)!r}; "
            f"allowed: {', '.join(allowed_next(ticket_type, current)) or 'none (finished)'}"
        )
