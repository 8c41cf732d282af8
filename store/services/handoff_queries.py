"""What the gateway and the console read about handoffs without changing them: the queue in its
order, an agent's chats, who has room for another chat, notes and history.

The transitions are store/services/handoffs.py (which re-exports these names, so callers keep
one `handoffs` namespace).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from store.models import (
    HANDOFF_OPEN_STATES,
    HANDOFF_PRIORITIES,
    AgentNote,
    Handoff,
    HandoffEvent,
    HandoffState,
    StaffAvailability,
    StaffUser,
)

__all__ = [
    "PRIORITY_RANK",
    "AgentLoad",
    "agent_load",
    "agent_name",
    "assigned_to",
    "available_agents",
    "events",
    "least_loaded_available_agent",
    "notes",
    "open_handoffs",
    "queue",
]

PRIORITY_RANK: Final = {p: i for i, p in enumerate(HANDOFF_PRIORITIES)}
"""Priority → rank, urgent first (0)."""


@dataclass(frozen=True)
class AgentLoad:
    agent_id: int
    username: str
    availability: str
    max_chats: int
    assigned: int


def queue(session: Session) -> list[Handoff]:
    """Queued handoffs, urgent first, then the longest waiting."""
    rank = case(PRIORITY_RANK, value=Handoff.priority, else_=len(PRIORITY_RANK))
    stmt = (
        select(Handoff)
        .where(Handoff.state == HandoffState.QUEUED)
        .order_by(rank, Handoff.queued_at, Handoff.id)
    )
    return list(session.scalars(stmt))


def assigned_to(session: Session, agent_id: int) -> list[Handoff]:
    """The agent's current chats, oldest first."""
    stmt = (
        select(Handoff)
        .where(Handoff.state == HandoffState.ASSIGNED, Handoff.agent_id == agent_id)
        .order_by(Handoff.assigned_at, Handoff.id)
    )
    return list(session.scalars(stmt))


def open_handoffs(session: Session) -> list[Handoff]:
    """Every queued or assigned handoff (the watcher's work list), oldest first."""
    stmt = select(Handoff).where(Handoff.state.in_(HANDOFF_OPEN_STATES)).order_by(Handoff.id)
    return list(session.scalars(stmt))


def agent_load(session: Session) -> list[AgentLoad]:
    """Every staff user with the number of chats assigned to them now."""
    counts = (
        select(Handoff.agent_id, func.count(Handoff.id).label("n"))
        .where(Handoff.state == HandoffState.ASSIGNED)
        .group_by(Handoff.agent_id)
        .subquery()
    )
    stmt = (
        select(StaffUser, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.agent_id == StaffUser.id)
        .order_by(StaffUser.id)
    )
    return [
        AgentLoad(
            agent_id=user.id,
            username=user.username,
            availability=user.availability,
            max_chats=user.max_chats,
            assigned=int(n),
        )
        for user, n in session.execute(stmt)
    ]


def available_agents(session: Session) -> list[AgentLoad]:
    """Agents/supervisors marked available with room for another chat."""
    return [
        load
        for load in agent_load(session)
        if load.availability == StaffAvailability.AVAILABLE and load.assigned < load.max_chats
    ]


def least_loaded_available_agent(session: Session) -> StaffUser | None:
    """The available staff user with the fewest assigned chats under their max_chats (ties:
    the lowest id); None when everybody is away, offline or full."""
    candidates = available_agents(session)
    if not candidates:
        return None
    best = min(candidates, key=lambda load: (load.assigned, load.agent_id))
    return session.get(StaffUser, best.agent_id)


def agent_name(session: Session, agent_id: int) -> str:
    """The staff user's username (what handoff events name as the actor); the id when the user
    is gone."""
    user = session.get(StaffUser, agent_id)
    return user.username if user is not None else str(agent_id)


def notes(session: Session, handoff_id: int) -> list[AgentNote]:
    stmt = select(AgentNote).where(AgentNote.handoff_id == handoff_id).order_by(AgentNote.id)
    return list(session.scalars(stmt))


def events(session: Session, handoff_id: int) -> list[HandoffEvent]:
    stmt = (
        select(HandoffEvent)
        .where(HandoffEvent.handoff_id == handoff_id)
        .order_by(HandoffEvent.at, HandoffEvent.id)
    )
    return list(session.scalars(stmt))
