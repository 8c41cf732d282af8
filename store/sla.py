"""Deadlines: working days over the station's holiday calendar, and the commitment of each
ticket type. Pure functions; `now` is always passed in (aware) so tests can fix the clock.

A deadline in working days falls at the same local time on the Nth working day after the
start (a Friday 10:00 request with 1 working day is due Monday 10:00; holidays skipped,
make-up working Saturdays counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from store.config import Commitments, WorkCalendar
from store.models.tickets import TicketType


def require_aware(value: datetime, name: str = "now") -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def add_working_days(start: datetime, days: int, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """`start` moved forward by `days` working days, same local time of day."""
    require_aware(start, "start")
    if days < 0:
        raise ValueError("days must not be negative")
    local = start.astimezone(tz)
    day = local.date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    moved = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
    return moved.astimezone(start.tzinfo)


def is_overdue(due_at: datetime | None, now: datetime, finished_at: datetime | None = None) -> bool:
    """Late when finished after the deadline, or still unfinished past it."""
    if due_at is None:
        return False
    return (finished_at or now) > due_at


@dataclass(frozen=True)
class Deadlines:
    respond_due_at: datetime | None
    """When the crew should arrive / the customer should be contacted."""
    resolve_due_at: datetime | None
    """When supply should be restored / the customer should have the answer."""


def ticket_deadlines(
    commitments: Commitments,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    *,
    ticket_type: str,
    area_kind: str | None,
    now: datetime,
) -> Deadlines:
    """The committed response and resolution times of a new ticket of this type."""
    require_aware(now)
    c = commitments
    if ticket_type in (TicketType.FAULT, TicketType.HAZARD):
        respond = now + timedelta(minutes=c.arrival_minutes(area_kind))
        return Deadlines(respond, respond + timedelta(hours=c.restoration_hours(area_kind)))
    if ticket_type == TicketType.COMPLAINT:
        return Deadlines(
            now + timedelta(hours=c.complaint_contact_hours),
            add_working_days(now, c.complaint_reply_working_days, calendar, tz),
        )
    if ticket_type == TicketType.RECONNECT:
        return Deadlines(None, now + timedelta(hours=c.reconnect_hours))
    if ticket_type == TicketType.CALLBACK:
        contact = now + timedelta(hours=c.callback_contact_hours)
        return Deadlines(contact, contact)
    days = c.ticket_reply_working_days(ticket_type)
    if days is None:
        raise ValueError(f"no commitment configured for {ticket_type!r} tickets")
    return Deadlines(None, add_working_days(now, days, calendar, tz))


def working_days_between(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> int:
    """Working days after `start`'s local date up to and including `end`'s (0 if end <= start):
    how far a deadline moves when the clock was stopped between the two."""
    require_aware(start, "start")
    require_aware(end, "end")
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        count += calendar.is_working_day(day)
    return count
