"""Ticket state machines: which status may follow which, per ticket type.

Kept in code, not configuration, because the services and the reports depend on the meaning of
each status; their wording lives in conf/labels.yml. The diagrams are in docs/state-machines.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

TicketType = Literal[
    "fault",
    "hazard",
    "meter_test",
    "complaint",
    "violation",
    "suggestion",
    "praise",
    "bill_check",
    "reconnect",
    "callback",
]
TICKET_TYPES: Final[tuple[str, ...]] = (
    "fault",
    "hazard",
    "meter_test",
    "complaint",
    "violation",
    "suggestion",
    "praise",
    "bill_check",
    "reconnect",
    "callback",
)
PRIORITIES: Final[tuple[str, ...]] = ("urgent", "high", "normal", "low")
AREA_KINDS: Final[tuple[str, ...]] = ("urban", "rural", "remote")

_Table = Mapping[str, tuple[str, ...]]

_FAULT: Final[_Table] = {
    "received": ("dispatched", "merged", "customer_side", "cancelled"),
    "dispatched": ("accepted", "merged", "customer_side", "cancelled"),
    "accepted": ("on_site", "merged", "cancelled"),
    "on_site": ("repairing", "restored", "customer_side"),
    "repairing": ("restored",),
    "restored": ("awaiting_callback", "closed"),
    "awaiting_callback": ("closed",),
    "merged": ("restored", "closed"),
    "customer_side": ("closed",),
    "cancelled": (),
    "closed": (),
}
_HAZARD: Final[_Table] = {
    "received": ("dispatched", "cancelled"),
    "dispatched": ("on_site", "cancelled"),
    "on_site": ("made_safe",),
    "made_safe": ("closed",),
    "cancelled": (),
    "closed": (),
}
_COMPLAINT: Final[_Table] = {
    "received": ("assigned", "escalated", "cancelled"),
    "assigned": ("contacted", "escalated"),
    "contacted": ("investigating", "escalated"),
    "investigating": ("replied", "escalated"),
    "replied": ("callback", "closed", "escalated"),
    "callback": ("closed", "escalated"),
    "escalated": ("investigating", "replied", "closed"),
    "cancelled": (),
    "closed": (),
}
_SIMPLE: Final[_Table] = {
    "received": ("processing", "closed", "cancelled"),
    "processing": ("closed", "cancelled"),
    "cancelled": (),
    "closed": (),
}

TRANSITIONS: Final[Mapping[str, _Table]] = {
    "fault": _FAULT,
    "hazard": _HAZARD,
    "complaint": _COMPLAINT,
    **{t: _SIMPLE for t in TICKET_TYPES if t not in ("fault", "hazard", "complaint")},
}

#: Statuses after which a ticket is finished (closed_at is set).
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"closed", "cancelled"})

#: Fault statuses in which power is not (yet) known to be back: a new report of the same fault
#: by the same customer is a duplicate only while the ticket is in one of these.
FAULT_ACTIVE_STATUSES: Final[tuple[str, ...]] = (
    "received",
    "dispatched",
    "accepted",
    "on_site",
    "repairing",
    "merged",
)

#: Statuses before the crew (or the staff member) has responded: the response deadline applies.
AWAITING_RESPONSE: Final[frozenset[str]] = frozenset(
    {"received", "dispatched", "accepted", "assigned"}
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
        raise ValueError(f"unknown ticket type {ticket_type!r}")
    return table.get(status, ())


def check_transition(ticket_type: str, current: str, new: str) -> None:
    """Raise IllegalTransition unless `current` → `new` is allowed for this type."""
    if new not in allowed_next(ticket_type, current):
        raise IllegalTransition(
            f"{ticket_type} ticket cannot go from {current!r} to {new!r}; "
            f"allowed: {', '.join(allowed_next(ticket_type, current)) or 'none (finished)'}"
        )
