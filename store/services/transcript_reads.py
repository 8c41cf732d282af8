"""Reading a transcript back: a conversation's last messages, the answers to one message, and
whether the database answers at all. Storing is store/services/transcripts.py (which
re-exports these names)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store.models import Conversation, Message

__all__ = ["created_at_of", "message", "ping", "recent", "replies_to"]


def recent(session: Session, conversation_id: str, limit: int = 200) -> list[Message]:
    """The conversation's last `limit` messages, oldest first."""
    stmt = (
        select(Message)
        .join(Conversation, Message.conversation_pk == Conversation.id)
        .where(Conversation.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(max(0, limit))
    )
    return list(reversed(list(session.scalars(stmt))))


def created_at_of(session: Session, message_ids: Collection[int]) -> list[tuple[int, datetime]]:
    """(id, created_at) of these messages (those that exist)."""
    if not message_ids:
        return []
    rows = session.execute(
        select(Message.id, Message.created_at).where(Message.id.in_(list(message_ids)))
    )
    return [(int(message_id), created_at) for message_id, created_at in rows]


def message(session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def replies_to(session: Session, message_id: int) -> list[Message]:
    """The stored answers to one customer message, in order."""
    stmt = select(Message).where(Message.in_reply_to_id == message_id).order_by(Message.id)
    return list(session.scalars(stmt))


def ping(session: Session) -> bool:
    """Whether the database answers (the gateway's health check)."""
    return session.execute(text("SELECT 1")).scalar() == 1
