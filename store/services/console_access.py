"""Which conversations a staff member may open in the console (ownership, not only role).

An agent sees the conversations they handle: a handoff of it assigned to them now or before
(resolved, handed back, abandoned while theirs), one waiting in the queue (which every agent
serves: they must read it to decide to take it), or one they transferred to a colleague (the
transfer event names them; the handoff then names the colleague). Supervisors and managers see
the whole station (store/roles.py). Operators see no customer's conversation.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.models import Conversation, Handoff, HandoffEvent, HandoffState
from store.roles import SEES_STATION, WORKS_CHATS
from store.services.console_sessions import StaffIdentity


def may_view(session: Session, who: StaffIdentity, conversation_pk: int) -> bool:
    """Whether `who` may open the transcript and customer panel of this conversation."""
    if who.role in SEES_STATION:
        return True
    if who.role not in WORKS_CHATS:
        return False
    theirs = select(Handoff.id).where(
        Handoff.conversation_pk == conversation_pk,
        or_(Handoff.state == HandoffState.QUEUED, Handoff.agent_id == who.user_id),
    )
    if session.scalars(theirs.limit(1)).first() is not None:
        return True
    passed_on = (
        select(HandoffEvent.id)
        .join(Handoff, Handoff.id == HandoffEvent.handoff_id)
        .where(
            Handoff.conversation_pk == conversation_pk,
            HandoffEvent.from_state == HandoffState.ASSIGNED,
            HandoffEvent.to_state == HandoffState.ASSIGNED,
            HandoffEvent.actor == who.username,
        )
    )
    return session.scalars(passed_on.limit(1)).first() is not None


def conversation(session: Session, handle: int) -> Conversation | None:
    """The conversation behind a console handle (its database id)."""
    return session.get(Conversation, handle)
