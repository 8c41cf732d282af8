"""Satisfaction ratings (1-5) customers give at the end of a conversation (CSAT).

A rating given soon after an agent resolved or handed back a handoff rates that handoff: it
carries the handoff and agent ids (the gateway's survey passes them; a rating the bot's own
rate_service action records is linked here when the conversation's last handoff ended within
`LINK_WINDOW` and has no rating yet).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Conversation, Handoff, HandoffState, Rating
from store.sla import require_aware

LINK_WINDOW: Final = timedelta(hours=24)


def _unrated_handoff(session: Session, sender_id: str, now: datetime) -> Handoff | None:
    handoff = session.scalars(
        select(Handoff)
        .join(Conversation, Conversation.id == Handoff.conversation_pk)
        .where(Conversation.conversation_id == sender_id)
        .order_by(Handoff.id.desc())
        .limit(1)
    ).first()
    if (
        handoff is None
        or handoff.state not in (HandoffState.RESOLVED, HandoffState.RETURNED_TO_BOT)
        or handoff.closed_at is None
        or now - handoff.closed_at > LINK_WINDOW
    ):
        return None
    rated = session.scalars(select(Rating.id).where(Rating.handoff_id == handoff.id)).first()
    return handoff if rated is None else None


def record(
    session: Session,
    *,
    sender_id: str,
    channel: str | None,
    rating: int,
    comment: str | None,
    now: datetime,
    handoff_id: int | None = None,
    agent_id: int | None = None,
) -> Rating:
    require_aware(now)
    if not 1 <= rating <= 5:
        raise ValueError(f"rating must be 1-5, got {rating}")
    if handoff_id is None:
        handoff = _unrated_handoff(session, sender_id, now)
        if handoff is not None:
            handoff_id, agent_id = handoff.id, handoff.agent_id
    row = Rating(
        sender_id=sender_id,
        channel=channel,
        rating=rating,
        comment=comment,
        created_at=now,
        handoff_id=handoff_id,
        agent_id=agent_id,
    )
    session.add(row)
    session.flush()
    return row


def latest_for_handoff(session: Session, handoff_id: int) -> Rating | None:
    """The newest rating given for the handoff (the gateway's survey), if any."""
    stmt = select(Rating).where(Rating.handoff_id == handoff_id).order_by(Rating.id.desc())
    return session.scalars(stmt).first()


def add_comment(session: Session, rating: Rating, comment: str) -> None:
    """The customer's comment after their rating."""
    rating.comment = comment
    session.flush()
