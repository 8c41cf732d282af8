"""Human handoff: the action server's requests, each stay of a conversation with people, its
history and the agents' notes, and the customers' ratings afterwards.

The transitions are store/services/handoffs.py; the diagram is docs/state-machines.md.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, check_in, values
from store.models.conversations import Conversation
from store.models.staff import StaffUser


class HandoffState(StrEnum):
    """'bot' only appears as the from_state of a handoff's first event."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    RETURNED_TO_BOT = "returned_to_bot"
    ABANDONED = "abandoned"
    EXPIRED = "expired"


class HandoffPriority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"


class HandoffRequestStatus(StrEnum):
    WAITING = "waiting"
    """Recorded by the action server, not yet seen by the gateway."""
    QUEUED = "queued"
    """The gateway opened a handoff for it."""


HANDOFF_STATES = values(HandoffState)
"""See store/services/handoffs.py for the transitions and docs/state-machines.md for the
diagram. 'bot' only appears as the from_state of a handoff's first event."""
HANDOFF_OPEN_STATES = (HandoffState.QUEUED.value, HandoffState.ASSIGNED.value)
HANDOFF_CLOSED_STATES = tuple(
    s.value for s in HandoffState if s not in (HandoffState.BOT, *HANDOFF_OPEN_STATES)
)
"""Where a handoff ends: resolved, returned to the bot, abandoned or expired."""
HANDOFF_PRIORITIES = values(HandoffPriority)
"""Most urgent first (the queue's order)."""


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"
    __table_args__ = (Index("ix_handoff_requests_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=HandoffRequestStatus.WAITING)
    created_at: Mapped[datetime]


class Handoff(Base):
    """One stay of a conversation with people: from the bot's escalation until an agent
    resolves it or hands it back, or the customer leaves/takes a callback instead."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(check_in("state", HandoffState), name="state"),
        CheckConstraint(check_in("priority", HandoffPriority), name="priority"),
        Index("ix_handoffs_conversation_pk_state", "conversation_pk", "state"),
        Index("ix_handoffs_state_queued_at", "state", "queued_at"),
        Index("ix_handoffs_agent_id_state", "agent_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_pk: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    """conversations.id (the row), not the `<channel>:<chat_id>` string."""
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    """request_human, fallback, complaint, action_failure, rasa_timeout, safety_hazard, ..."""
    detail: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(8), default=HandoffPriority.NORMAL)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    callback_ticket_no: Mapped[str | None] = mapped_column(String(16))
    customer_notice: Mapped[str | None] = mapped_column(String(16))
    """The one 'nobody can answer now' notice sent ('no_agent', 'out_of_hours', 'wait_limit'),
    so the customer is told once; None until then."""
    notice_at: Mapped[datetime | None]
    last_customer_at: Mapped[datetime | None]
    """The customer's last message while open (the abandon timer)."""

    conversation: Mapped[Conversation] = relationship()
    agent: Mapped[StaffUser | None] = relationship()
    events: Mapped[list[HandoffEvent]] = relationship(
        back_populates="handoff",
        order_by="(HandoffEvent.at, HandoffEvent.id)",
        cascade="all, delete-orphan",
    )


class HandoffEvent(Base):
    """One state change of a handoff: who (username, 'bot', 'system', 'customer') and why."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    why: Mapped[str | None] = mapped_column(Text)

    handoff: Mapped[Handoff] = relationship(back_populates="events")


class AgentNote(Base):
    """An agent's private note on a handoff (never shown to the customer)."""

    __tablename__ = "agent_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Rating(Base):
    """A customer's 1-5 satisfaction rating of a conversation (CSAT)."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoffs.id", ondelete="SET NULL"), index=True
    )
    """The handoff rated (the survey after an agent resolved or handed back); None for bot-only
    conversations."""
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    """The agent who served the customer (None for bot-only conversations)."""
