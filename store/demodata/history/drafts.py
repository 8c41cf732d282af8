"""A ticket of the history as the services would have written it, step by step.

Every status change is checked against the ticket's state machine (store/workflow.py) and kept
as a `ticket_events` row with its actor, time and note, the way `tickets.advance`, the dispatch
desk (store/services/dispatch.py) and the case desk (store/services/case_feedback.py) write
them; deadlines are `store.sla.ticket_deadlines`. Nothing is written until `emit`, and a ticket
whose story does not end before the history does is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from store.demodata.history.context import AccountRef, AreaRef, Ctx
from store.demodata.history.sink import table_of
from store.ids import TICKET_PREFIX
from store.models import Ticket, TicketEvent, TicketStatus
from store.sla import ticket_deadlines
from store.workflow import TERMINAL_STATUSES, check_transition

TICKETS: Final = table_of(Ticket)
EVENTS: Final = table_of(TicketEvent)
ASSISTANT: Final = "assistant"
S = TicketStatus


@dataclass(frozen=True)
class Origin:
    """Where a ticket came from: a chat (its conversation id and channel), or the phone line
    (95598) or the counter (hall) with the member of staff who typed it in."""

    channel: str | None
    sender_id: str | None
    actor: str


class TicketDraft:
    def __init__(
        self,
        ctx: Ctx,
        *,
        type: str,
        created: datetime,
        description: str,
        origin: Origin,
        area: AreaRef | None,
        account: AccountRef | None,
        anonymous: bool = False,
        address: str | None = None,
    ) -> None:
        self.ctx = ctx
        settings = ctx.settings
        deadlines = ticket_deadlines(
            settings.commitments, settings.calendar, settings.tz,
            ticket_type=type, area_kind=area.kind if area else None, now=created,
        )  # fmt: skip
        self.id = ctx.sink.new_id(TICKETS)
        self.type = type
        self.area_kind = area.kind if area else None
        self.status: str = S.RECEIVED
        self.row: dict[str, Any] = {
            "id": self.id,
            "ticket_no": ctx.numbers.next(TICKET_PREFIX, created.astimezone(ctx.tz).date()),
            "type": type, "priority": settings.commitments.priorities[type],
            "status": S.RECEIVED.value, "area_id": area.id if area else None,
            "account_id": None if anonymous or account is None else account.id,
            "sender_id": None if anonymous else origin.sender_id,
            "channel": origin.channel,
            "contact_phone": None if anonymous or account is None else account.phone,
            "address": account.address if account else (address or (area.name if area else None)),
            "description": description, "outage_id": None, "crew_id": None,
            "callback_result": None, "respond_due_at": deadlines.respond_due_at,
            "resolve_due_at": deadlines.resolve_due_at, "created_at": created,
            "closed_at": None, "escalated": False, "handler": None, "contacted_at": None,
            "replied_at": None, "reply": None, "verdict": None,
        }  # fmt: skip
        self.events: list[tuple[str, datetime, str, str | None]] = [
            (S.RECEIVED.value, created, origin.actor, None)
        ]

    @property
    def number(self) -> str:
        return str(self.row["ticket_no"])

    @property
    def last_at(self) -> datetime:
        return self.events[-1][1]

    def step(self, status: str, at: datetime, actor: str, note: str | None = None) -> None:
        """A status change (`tickets.advance`): legal from the current status, not earlier than
        the previous event."""
        check_transition(self.type, self.status, status)
        at = max(at, self.last_at)
        self.status = status
        self.row["status"] = status
        if status in TERMINAL_STATUSES:
            self.row["closed_at"] = at
        if status == S.ESCALATED:
            self.row["escalated"] = True
        self.events.append((status, at, actor, note))

    def after(self, status: str, minutes: float, actor: str, note: str | None = None) -> None:
        """A status change `minutes` after the previous event."""
        self.step(status, self.last_at + timedelta(minutes=minutes), actor, note)

    def split(self, at: datetime, actor: str, note: str) -> None:
        """Out of the outage it was merged into (`dispatch.split`, the state machine's
        correction): received again, with the commitments its report would have had."""
        created, area_kind = self.row["created_at"], self.area_kind
        settings = self.ctx.settings
        deadlines = ticket_deadlines(
            settings.commitments, settings.calendar, settings.tz,
            ticket_type=self.type, area_kind=area_kind, now=created,
        )  # fmt: skip
        self.status = S.RECEIVED
        self.row.update(
            status=S.RECEIVED.value, outage_id=None,
            respond_due_at=deadlines.respond_due_at, resolve_due_at=deadlines.resolve_due_at,
        )  # fmt: skip
        self.events.append((S.RECEIVED.value, max(at, self.last_at), actor, note))

    def note(self, at: datetime, actor: str, text: str) -> None:
        """An event keeping the status (a note, a reassignment, a call to the customer)."""
        self.events.append((self.status, max(at, self.last_at), actor, text))

    def emit(self) -> bool:
        """Hand the ticket and its events to the sink, if it was finished within the history."""
        closed = self.row["closed_at"]
        if closed is None or not self.ctx.finished(closed):
            return False
        sink = self.ctx.sink
        sink.add(TICKETS, self.row)
        for status, at, actor, note in self.events:
            sink.add(EVENTS, {
                "id": sink.new_id(EVENTS), "ticket_id": self.id, "status": status,
                "at": at, "actor": actor, "note": note,
            })  # fmt: skip
        sink.checkpoint()
        return True
