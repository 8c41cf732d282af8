"""What the handoff desk hands out (plain values, safe outside the session) and what its parts
collect inside a transaction to act on once it committed (`Outcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.events import EventKind
from bot.messages import Reply

if TYPE_CHECKING:
    from store.services.handoffs import Handoff


@dataclass(frozen=True, slots=True)
class AgentRef:
    """The staff user acting in the console."""

    id: int
    username: str
    display_name: str = ""
    role: str = "agent"


@dataclass(frozen=True, slots=True)
class HandoffView:
    """A handoff as the console shows it (plain values, safe outside the session)."""

    id: int
    conversation_id: str
    channel: str
    state: str
    reason: str
    detail: str | None
    priority: str
    agent_id: int | None
    agent_username: str | None
    queued_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    callback_ticket_no: str | None
    customer_notice: str | None
    language: str | None

    @classmethod
    def of(cls, handoff: Handoff) -> HandoffView:
        conversation = handoff.conversation
        return cls(
            id=handoff.id,
            conversation_id=conversation.conversation_id,
            channel=conversation.channel,
            state=handoff.state,
            reason=handoff.reason,
            detail=handoff.detail,
            priority=handoff.priority,
            agent_id=handoff.agent_id,
            agent_username=handoff.agent.username if handoff.agent is not None else None,
            queued_at=handoff.queued_at,
            assigned_at=handoff.assigned_at,
            closed_at=handoff.closed_at,
            callback_ticket_no=handoff.callback_ticket_no,
            customer_notice=handoff.customer_notice,
            language=conversation.language,
        )

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "handoff_id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "state": self.state,
            "reason": self.reason,
            "detail": self.detail,
            "priority": self.priority,
            "agent_id": self.agent_id,
            "agent": self.agent_username,
            "queued_at": iso(self.queued_at),
            "assigned_at": iso(self.assigned_at),
            "closed_at": iso(self.closed_at),
            "callback_ticket_no": self.callback_ticket_no,
            "customer_notice": self.customer_notice,
            "language": self.language,
        }


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided about one customer message."""

    handled: bool
    """True: the bot must not answer (Rasa is not called); `replies` (maybe none) are sent."""
    replies: tuple[Reply, ...] = ()
    handoff: HandoffView | None = None
    """The conversation's open handoff (or the one just closed by this message)."""


WaitingRequest = tuple[int | None, str | None]
"""(id, detail) of the action server's waiting handoff request, or (None, None)."""


@dataclass
class Outcome:
    """Collected inside a transaction, acted on after it commits."""

    replies: list[Reply] = field(default_factory=list)
    events: list[tuple[EventKind, dict[str, Any], str | None]] = field(default_factory=list)
    view: HandoffView | None = None
    sends: list[tuple[str, tuple[Reply, ...]]] = field(default_factory=list)
    """Customer texts for other conversations (the watcher's and console's passes)."""


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's decision made inside a transaction (`HandoffDesk.gate_in`), with what to
    publish once it committed (`HandoffDesk.gate_done`)."""

    result: GateResult
    outcome: Outcome
