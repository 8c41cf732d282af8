"""Human handoff: a conversation escalated from the bot to a person and back.

States (diagram in docs/state-machines.md):

    bot → queued → assigned → resolved | returned_to_bot
          queued → abandoned | expired            (customer left / took a callback ticket)
                   assigned → assigned            (transfer to another agent)
                   assigned → abandoned | expired

A conversation has at most one *open* handoff (queued or assigned); while it has one, the
gateway never lets the bot answer. Every function takes the session and `now`, flushes, writes
one handoff_events row per state change (who and why) and returns the Handoff; anything the
table does not allow raises `IllegalTransition`. `claim` is atomic: an UPDATE ... WHERE
state='queued', so of two agents claiming at once exactly one wins, the other gets
`AlreadyClaimed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from store.models import (
    HANDOFF_CLOSED_STATES,
    HANDOFF_OPEN_STATES,
    AgentNote,
    Conversation,
    Handoff,
    HandoffEvent,
    HandoffPriority,
    HandoffState,
    StaffUser,
)
from store.services.handoff_queries import (
    PRIORITY_RANK,
    AgentLoad,
    agent_load,
    agent_name,
    assigned_to,
    available_agents,
    events,
    least_loaded_available_agent,
    notes,
    open_handoffs,
    queue,
)
from store.sla import require_aware
from store.workflow import IllegalTransition

__all__ = [  # everything here and the re-exported reads (store/services/handoff_queries.py)
    "CLOSED_STATES",
    "OPEN_STATES",
    "REASONS",
    "TRANSITIONS",
    "AgentLoad",
    "AlreadyClaimed",
    "Handoff",
    "HandoffSnapshot",
    "IllegalTransition",
    "NotFound",
    "abandon",
    "add_note",
    "agent_load",
    "agent_name",
    "assign",
    "assigned_to",
    "available_agents",
    "claim",
    "customer_seen",
    "events",
    "expire",
    "find",
    "get",
    "latest_state",
    "least_loaded_available_agent",
    "mark_notice",
    "notes",
    "open_for",
    "open_for_conversation_id",
    "open_handoffs",
    "queue",
    "request",
    "resolve",
    "return_to_bot",
    "transfer",
]

OPEN_STATES: Final[tuple[str, ...]] = HANDOFF_OPEN_STATES
CLOSED_STATES: Final[tuple[str, ...]] = HANDOFF_CLOSED_STATES
REASONS: Final[tuple[str, ...]] = (
    "request_human",
    "fallback",
    "complaint",
    "action_failure",
    "rasa_timeout",
    "safety_hazard",
    "agent_initiated",
)
"""Why the bot escalated; the console shows it (labels are the console's business)."""

TRANSITIONS: Final[Mapping[str, tuple[str, ...]]] = {
    HandoffState.BOT: (HandoffState.QUEUED,),
    HandoffState.QUEUED: (HandoffState.ASSIGNED, HandoffState.ABANDONED, HandoffState.EXPIRED),
    HandoffState.ASSIGNED: (
        HandoffState.ASSIGNED,
        HandoffState.RESOLVED,
        HandoffState.RETURNED_TO_BOT,
        HandoffState.ABANDONED,
        HandoffState.EXPIRED,
    ),
    HandoffState.RESOLVED: (),
    HandoffState.RETURNED_TO_BOT: (),
    HandoffState.ABANDONED: (),
    HandoffState.EXPIRED: (),
}


class AlreadyClaimed(Exception):
    """Another agent claimed the handoff first (or it left the queue meanwhile)."""

    def __init__(self, handoff_id: int, state: str, agent_id: int | None) -> None:
        super().__init__(f"handoff {handoff_id} is no longer queued ({state})")
        self.handoff_id = handoff_id
        self.state = state
        self.agent_id = agent_id


class NotFound(LookupError):
    """No handoff (or staff user) with that id."""


def _check(handoff: Handoff, to_state: str) -> None:
    if to_state not in TRANSITIONS.get(handoff.state, ()):
        raise IllegalTransition(f"handoff {handoff.id}: {handoff.state} → {to_state} not allowed")


def _event(
    session: Session,
    handoff: Handoff,
    from_state: str,
    to_state: str,
    *,
    actor: str,
    why: str | None,
    now: datetime,
) -> None:
    session.add(
        HandoffEvent(
            handoff_id=handoff.id,
            from_state=from_state,
            to_state=to_state,
            at=now,
            actor=actor,
            why=why,
        )
    )


def _move(
    session: Session,
    handoff: Handoff,
    to_state: str,
    *,
    actor: str,
    why: str | None,
    now: datetime,
) -> Handoff:
    require_aware(now)
    _check(handoff, to_state)
    from_state = handoff.state
    handoff.state = to_state
    if to_state in CLOSED_STATES:
        handoff.closed_at = now
    _event(session, handoff, from_state, to_state, actor=actor, why=why, now=now)
    session.flush()
    return handoff


def _agent(session: Session, agent_id: int) -> StaffUser:
    agent = session.get(StaffUser, agent_id)
    if agent is None:
        raise NotFound(f"no staff user {agent_id}")
    return agent


def get(session: Session, handoff_id: int, *, for_update: bool = False) -> Handoff:
    """The handoff, fresh from the database (row-locked on PostgreSQL with for_update)."""
    stmt = select(Handoff).where(Handoff.id == handoff_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    handoff = session.scalars(stmt).one_or_none()
    if handoff is None:
        raise NotFound(f"no handoff {handoff_id}")
    return handoff


def find(session: Session, handoff_id: int) -> Handoff | None:
    """The handoff, from the session when loaded already; None when there is none."""
    return session.get(Handoff, handoff_id)


def open_for(session: Session, conversation_pk: int) -> Handoff | None:
    """The conversation's open (queued/assigned) handoff, by conversations.id."""
    stmt = (
        select(Handoff)
        .where(Handoff.conversation_pk == conversation_pk, Handoff.state.in_(OPEN_STATES))
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def open_for_conversation_id(session: Session, conversation_id: str) -> Handoff | None:
    """The same by the `<channel>:<chat_id>` string (what the gateway and tickets use)."""
    stmt = (
        select(Handoff)
        .join(Conversation, Conversation.id == Handoff.conversation_pk)
        .where(Conversation.conversation_id == conversation_id, Handoff.state.in_(OPEN_STATES))
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


@dataclass(frozen=True)
class HandoffSnapshot:
    """A handoff's id, state and end, read without loading the ORM object."""

    id: int
    state: str
    closed_at: datetime | None

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


def latest_state(session: Session, conversation_pk: int) -> HandoffSnapshot | None:
    """The state of the conversation's most recent handoff (the gateway asks on every customer
    message: a Core read, no ORM object)."""
    row = session.connection().execute(_LATEST_STATE, {"pk": conversation_pk}).first()
    return HandoffSnapshot(*row) if row is not None else None


_HANDOFFS = Handoff.__table__
_LATEST_STATE = (  # built once
    select(_HANDOFFS.c.id, _HANDOFFS.c.state, _HANDOFFS.c.closed_at)
    .where(_HANDOFFS.c.conversation_pk == bindparam("pk"))
    .order_by(_HANDOFFS.c.id.desc())
    .limit(1)
)


def request(
    session: Session,
    *,
    conversation_pk: int,
    reason: str,
    detail: str | None = None,
    priority: str = HandoffPriority.NORMAL,
    actor: str = "bot",
    now: datetime,
) -> Handoff:
    """Queue the conversation for a person (bot → queued). Idempotent: if it already has an
    open handoff, that one is returned (its priority raised if this request is more urgent)."""
    require_aware(now)
    if priority not in PRIORITY_RANK:
        raise ValueError(f"unknown priority {priority!r}")
    current = open_for(session, conversation_pk)
    if current is not None:
        if PRIORITY_RANK[priority] < PRIORITY_RANK[current.priority]:
            current.priority = priority
            session.flush()
        return current
    handoff = Handoff(
        conversation_pk=conversation_pk,
        state=HandoffState.BOT,
        reason=reason,
        detail=detail,
        priority=priority,
        queued_at=now,
        last_customer_at=now,
    )
    session.add(handoff)
    session.flush()
    return _move(session, handoff, HandoffState.QUEUED, actor=actor, why=reason, now=now)


def claim(
    session: Session, handoff_id: int, agent_id: int, *, now: datetime, actor: str | None = None
) -> Handoff:
    """The agent takes a queued handoff (queued → assigned). Atomic: a single
    UPDATE ... WHERE state='queued'; when it changes no row, `AlreadyClaimed`."""
    require_aware(now)
    agent = _agent(session, agent_id)
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.state == HandoffState.QUEUED)
        .values(state=HandoffState.ASSIGNED, agent_id=agent_id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    handoff = get(session, handoff_id)
    if getattr(result, "rowcount", 0) != 1:
        if handoff.state == HandoffState.ASSIGNED:
            raise AlreadyClaimed(handoff_id, handoff.state, handoff.agent_id)
        raise IllegalTransition(f"handoff {handoff_id}: {handoff.state} → assigned not allowed")
    _event(
        session,
        handoff,
        HandoffState.QUEUED,
        HandoffState.ASSIGNED,
        actor=actor or agent.username,
        why="claimed" if actor is None else f"assigned to {agent.username}",
        now=now,
    )
    session.flush()
    return handoff


def assign(session: Session, handoff_id: int, agent_id: int, *, now: datetime) -> Handoff:
    """Auto-assignment by the system (same atomic claim, actor 'system')."""
    return claim(session, handoff_id, agent_id, now=now, actor="system")


def transfer(
    session: Session,
    handoff_id: int,
    from_agent_id: int,
    to_agent_id: int,
    *,
    now: datetime,
    why: str | None = None,
) -> Handoff:
    """Hand an assigned chat to a colleague (assigned → assigned)."""
    require_aware(now)
    handoff = get(session, handoff_id, for_update=True)
    from_agent = _agent(session, from_agent_id)
    to_agent = _agent(session, to_agent_id)
    _check(handoff, HandoffState.ASSIGNED)
    if handoff.state != HandoffState.ASSIGNED or handoff.agent_id != from_agent_id:
        raise IllegalTransition(f"handoff {handoff_id} is not assigned to {from_agent.username}")
    if to_agent_id == from_agent_id:
        raise IllegalTransition(f"handoff {handoff_id}: transfer to the same agent")
    handoff.agent_id = to_agent_id
    handoff.assigned_at = now
    _event(
        session,
        handoff,
        HandoffState.ASSIGNED,
        HandoffState.ASSIGNED,
        actor=from_agent.username,
        why=why or f"transferred to {to_agent.username}",
        now=now,
    )
    session.flush()
    return handoff


def _by_its_agent(session: Session, handoff_id: int, agent_id: int, to_state: str) -> Handoff:
    handoff = get(session, handoff_id, for_update=True)
    _check(handoff, to_state)
    if handoff.agent_id != agent_id:
        raise IllegalTransition(f"handoff {handoff_id} is not assigned to staff user {agent_id}")
    return handoff


def return_to_bot(
    session: Session, handoff_id: int, agent_id: int, *, now: datetime, why: str | None = None
) -> Handoff:
    """The agent hands the conversation back to the bot (assigned → returned_to_bot)."""
    handoff = _by_its_agent(session, handoff_id, agent_id, HandoffState.RETURNED_TO_BOT)
    agent = _agent(session, agent_id)
    return _move(
        session, handoff, HandoffState.RETURNED_TO_BOT, actor=agent.username, why=why, now=now
    )


def resolve(
    session: Session, handoff_id: int, agent_id: int, *, now: datetime, why: str | None = None
) -> Handoff:
    """The agent closes the case (assigned → resolved); the bot answers again afterwards."""
    handoff = _by_its_agent(session, handoff_id, agent_id, HandoffState.RESOLVED)
    agent = _agent(session, agent_id)
    return _move(session, handoff, HandoffState.RESOLVED, actor=agent.username, why=why, now=now)


def abandon(
    session: Session,
    handoff_id: int,
    *,
    actor: str = "customer",
    now: datetime,
    why: str | None = None,
) -> Handoff:
    """The customer left (said goodbye, or silent past the abandon limit)."""
    handoff = get(session, handoff_id, for_update=True)
    return _move(session, handoff, HandoffState.ABANDONED, actor=actor, why=why, now=now)


def expire(
    session: Session,
    handoff_id: int,
    *,
    now: datetime,
    callback_ticket_no: str | None = None,
    actor: str = "system",
    why: str | None = None,
) -> Handoff:
    """Nobody could take it (the customer accepted a callback ticket instead, recorded here)."""
    handoff = get(session, handoff_id, for_update=True)
    if callback_ticket_no is not None:
        handoff.callback_ticket_no = callback_ticket_no
    return _move(session, handoff, HandoffState.EXPIRED, actor=actor, why=why, now=now)


def add_note(
    session: Session, handoff_id: int, agent_id: int, text: str, *, now: datetime
) -> AgentNote:
    """An agent's private note on the handoff."""
    require_aware(now)
    get(session, handoff_id)
    _agent(session, agent_id)
    note = AgentNote(handoff_id=handoff_id, agent_id=agent_id, text=text, at=now)
    session.add(note)
    session.flush()
    return note


def mark_notice(session: Session, handoff_id: int, notice: str, *, now: datetime) -> bool:
    """Record that the customer was told `notice` (no_agent/out_of_hours/wait_limit). Atomic:
    False when a notice was already recorded, so the customer is told once."""
    require_aware(now)
    result = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.customer_notice.is_(None))
        .values(customer_notice=notice, notice_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return getattr(result, "rowcount", 0) == 1


def customer_seen(session: Session, handoff: Handoff, *, now: datetime) -> None:
    """The customer wrote while the handoff is open (restarts the abandon timer)."""
    require_aware(now)
    handoff.last_customer_at = now
    session.flush()
