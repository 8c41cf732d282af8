"""The statuses of the gateway's messages: compare-and-set claims, what waits, what a dead
process left.

A customer message is 'received' while a turn holds it, 'pending' while it waits for Rasa,
'processed' once answered; a reply the router sends itself is 'pending' until claimed
('received') and 'processed' once its channel took it (bot/README.md has the diagram). Every
change here is one UPDATE, so of two gateways claiming at once exactly one wins. The rest of
the transcript is store/services/transcripts.py (which re-exports these names).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, func, select, update
from sqlalchemy.orm import Session

from store.models import Conversation, Message, MessageDirection, MessageStatus
from store.sla import require_aware

__all__ = [
    "claim_undelivered",
    "count_pending",
    "pending_conversations",
    "pending_inbound",
    "recover_stale",
    "release_unsent",
    "set_status",
    "undelivered_conversations",
]

_CONVERSATIONS = cast(Table, Conversation.__table__)
_MESSAGES = cast(Table, Message.__table__)


def set_status(
    session: Session, message_ids: Sequence[int], status: str, *, expected: str | None = None
) -> int:
    """Set the status of messages; with `expected`, only of those still in that status (a
    compare-and-set: the number of rows changed says whether this caller won the claim)."""
    if not message_ids:
        return 0
    stmt = update(Message).where(Message.id.in_(list(message_ids))).values(status=status)
    if expected is not None:
        stmt = stmt.where(Message.status == expected)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


def count_pending(session: Session) -> int:
    """Customer messages waiting for Rasa."""
    stmt = select(func.count()).select_from(Message).where(*_WAITING_IN)
    return int(session.scalar(stmt) or 0)


def pending_conversations(session: Session, limit: int = 100) -> list[str]:
    """Conversations with pending customer messages, the longest-waiting first."""
    return _conversations_with(session, _WAITING_IN, limit)


def pending_inbound(
    session: Session, conversation_id: str, before: int | None = None
) -> list[Message]:
    """A conversation's pending customer messages (older than message `before`), oldest
    first."""
    conditions = [*_WAITING_IN, Conversation.conversation_id == conversation_id]
    if before is not None:
        conditions.append(Message.id < before)
    stmt = (
        select(Message)
        .join(Conversation, Message.conversation_pk == Conversation.id)
        .where(*conditions)
        .order_by(Message.id)
    )
    return list(session.scalars(stmt))


def undelivered_conversations(session: Session, limit: int = 100) -> list[str]:
    """Conversations with replies stored but not yet handed to their channel ('pending'
    outbound: a crash came between storing and sending them), the longest-waiting first."""
    return _conversations_with(session, _WAITING_OUT, limit)


def claim_undelivered(session: Session, conversation_id: str) -> list[Message]:
    """A conversation's replies not yet handed to its channel, claimed for sending ('pending'
    becomes 'received' in one statement: of two gateways sending at once, each reply goes to
    one), in the order to send them. The caller marks each 'processed' once sent, or
    'pending' again when it could not be sent."""
    conversation = select(_CONVERSATIONS.c.id).where(
        _CONVERSATIONS.c.conversation_id == conversation_id
    )
    claim = (
        update(_MESSAGES)
        .where(
            _MESSAGES.c.conversation_pk == conversation.scalar_subquery(),
            _MESSAGES.c.direction == MessageDirection.OUT,
            _MESSAGES.c.status == MessageStatus.PENDING,
        )
        .values(status=MessageStatus.RECEIVED)
        .returning(_MESSAGES.c.id)
    )
    ids = list(session.connection().execute(claim).scalars())
    if not ids:
        return []
    return list(session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)))


def release_unsent(
    session: Session, *, stored_before: datetime, exclude: Collection[int] = ()
) -> int:
    """Replies claimed for sending ('received' outbound) by a gateway that died before it
    marked them sent, stored before `stored_before`, except those in `exclude` (the caller's
    own sends in progress): 'pending' again, to be sent. How many."""
    require_aware(stored_before, "stored_before")
    return _back_to_pending(session, MessageDirection.OUT, stored_before, exclude)


def _back_to_pending(
    session: Session, direction: str, before: datetime, exclude: Collection[int]
) -> int:
    """Messages of `direction` claimed ('received') and stored before `before`, except those
    in `exclude`: 'pending' again. How many."""
    conditions = [
        Message.direction == direction,
        Message.status == MessageStatus.RECEIVED,
        Message.created_at < before,
    ]
    if exclude:
        conditions.append(Message.id.not_in(list(exclude)))
    stmt = update(Message).where(*conditions).values(status=MessageStatus.PENDING)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))


def _conversations_with(
    session: Session, conditions: Sequence[ColumnElement[bool]], limit: int
) -> list[str]:
    """Conversations having messages that meet `conditions`, by their oldest such message."""
    stmt = (
        select(Conversation.conversation_id)
        .join(Message, Message.conversation_pk == Conversation.id)
        .where(*conditions)
        .group_by(Conversation.conversation_id)
        .order_by(func.min(Message.id))
        .limit(limit)
    )
    return list(session.scalars(stmt))


def recover_stale(
    session: Session, *, received_before: datetime, exclude: Collection[int] = ()
) -> int:
    """Customer messages stuck in 'received' since before `received_before` (their process died
    mid-turn, or their turn failed unexpectedly) become 'pending' again, for the retry worker,
    except those in `exclude` (the caller's own turns in progress); returns how many."""
    require_aware(received_before, "received_before")
    return _back_to_pending(session, MessageDirection.IN, received_before, exclude)


_WAITING_IN = (Message.direction == MessageDirection.IN, Message.status == MessageStatus.PENDING)
_WAITING_OUT = (Message.direction == MessageDirection.OUT, Message.status == MessageStatus.PENDING)
