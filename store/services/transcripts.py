"""The gateway's transcript: conversations and their messages, in both directions.

The router stores each customer message before asking Rasa (so nothing is lost when Rasa or
the process dies) and each reply after. Message texts and buttons are plain data here; the
gateway's `bot.messages` types are converted at its edge, so the stores do not depend on it.

What every customer message runs (`open_conversation`, `record_inbound`, `has_pending`,
`record_answer`) is SQLAlchemy Core on the session's connection: no ORM object is loaded or
flushed on that path (the ORM's unit of work cost about twice the statements themselves). The
rest reads and writes ORM objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Conversation, Message
from store.services.upserts import insert_ignore
from store.sla import require_aware

__all__ = [
    "ConversationRef",
    "DuplicateMessage",
    "OutboundText",
    "StoredRow",
    "count_pending",
    "find_inbound_id",
    "get_conversation",
    "has_pending",
    "open_conversation",
    "pending_conversations",
    "pending_inbound",
    "recent",
    "record_answer",
    "record_inbound",
    "record_outbound",
    "recover_stale",
    "replies_to",
    "set_intent",
    "set_status",
    "touch_conversation",
]


class DuplicateMessage(Exception):
    """A message with this external id is already stored for the conversation."""

    def __init__(self, conversation_id: str, external_id: str) -> None:
        super().__init__(f"{conversation_id}: message {external_id!r} was already received")
        self.conversation_id = conversation_id
        self.external_id = external_id


@dataclass(frozen=True)
class OutboundText:
    """One reply to store: text, buttons ({"title", "payload"}) and an optional image URL."""

    text: str
    buttons: Sequence[dict[str, str]] = ()
    image: str | None = None


@dataclass(frozen=True)
class ConversationRef:
    """A conversation row's identity and settings, read without loading the ORM object."""

    id: int
    conversation_id: str
    channel: str
    chat_id: str
    user_id: str | None
    language: str | None


@dataclass(frozen=True)
class StoredRow:
    """A message just inserted: its id and time."""

    id: int
    created_at: datetime


class _ConversationKeys(Protocol):
    """What storing a message needs of its conversation (a `Conversation` or its ref)."""

    @property
    def id(self) -> int: ...

    @property
    def conversation_id(self) -> str: ...


def get_conversation(session: Session, conversation_id: str) -> Conversation | None:
    return session.scalars(_CONVERSATION, {"cid": conversation_id}).one_or_none()


def open_conversation(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    chat_id: str,
    now: datetime,
    user_id: str | None = None,
    language: str | Callable[[str | None], str] | None = None,
) -> ConversationRef:
    """The conversation (created on first contact, race-free) with its user id and language
    brought up to date when given (`language` may be a function of the previous one); a
    changed value is written, an unchanged row is not. The activity time is left alone (the
    answer sets it). Core only: the per-message path."""
    require_aware(now)
    connection = session.connection()
    row = connection.execute(_CONVERSATION_REF, {"cid": conversation_id}).first()
    if row is None:
        _create_conversation(
            session, conversation_id=conversation_id, channel=channel, chat_id=chat_id, now=now
        )
        row = connection.execute(_CONVERSATION_REF, {"cid": conversation_id}).one()
    ref = ConversationRef(*row)
    wanted = language(ref.language) if callable(language) else language
    changed = replace(ref, user_id=user_id or ref.user_id, language=wanted or ref.language)
    if changed != ref:
        values = {"pk": ref.id, "user": changed.user_id, "lang": changed.language}
        connection.execute(_USER_LANGUAGE, values)
    return changed


def touch_conversation(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    chat_id: str,
    now: datetime,
    user_id: str | None = None,
    language: str | None = None,
    activity: bool = True,
) -> Conversation:
    """The conversation row (created on first contact, race-free), with its activity time,
    language and user id brought up to date (`activity=False`: not the time, for a caller that
    stores the answer right after, which sets it; an unchanged row is then not written)."""
    require_aware(now)
    conversation = get_conversation(session, conversation_id)
    if conversation is None:
        _create_conversation(
            session, conversation_id=conversation_id, channel=channel, chat_id=chat_id, now=now
        )
        conversation = get_conversation(session, conversation_id)
        if conversation is None:  # pragma: no cover - inserted or present just above
            raise RuntimeError(f"conversation {conversation_id} vanished")
    if activity and conversation.last_activity_at < now:
        conversation.last_activity_at = now
    if language:
        conversation.language = language
    if user_id:
        conversation.user_id = user_id
    session.flush()
    return conversation


def _create_conversation(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    chat_id: str,
    now: datetime,
) -> None:
    """Insert the conversation unless another process just did (its user id and language are
    set by the caller, as for a conversation that exists)."""
    insert_ignore(
        session,
        Conversation,
        {
            "conversation_id": conversation_id,
            "channel": channel,
            "chat_id": chat_id,
            "created_at": now,
            "last_activity_at": now,
        },
        [Conversation.conversation_id],
    )


def find_inbound_id(
    session: Session, conversation: _ConversationKeys, external_id: str
) -> int | None:
    """The id of the conversation's customer message with this external id, if stored."""
    params = {"pk": conversation.id, "external": external_id}
    return session.connection().execute(_INBOUND_ID_BY_EXTERNAL_ID, params).scalar()


def record_inbound(
    session: Session,
    conversation: _ConversationKeys,
    *,
    text: str,
    now: datetime,
    external_id: str | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    status: str = "received",
) -> StoredRow:
    """Store a customer message; DuplicateMessage when its external id was seen before.

    The unique constraint decides, so of two concurrent deliveries of the same message exactly
    one is stored (the other's insert fails, and its unit of work rolls back).
    """
    require_aware(now)
    if external_id is not None and find_inbound_id(session, conversation, external_id) is not None:
        raise DuplicateMessage(conversation.conversation_id, external_id)
    values = {
        **_NO_REPLY,
        "conversation_pk": conversation.id,
        "direction": "in",
        "sender": "customer",
        "text": text,
        "attachments": list(attachments),
        "external_id": external_id,
        "status": status,
        "created_at": now,
    }
    try:
        result = session.connection().execute(_INSERT_MESSAGE, values)
    except IntegrityError as exc:
        if external_id is None:
            raise
        raise DuplicateMessage(conversation.conversation_id, external_id) from exc
    return StoredRow(_inserted_id(result), now)


def record_outbound(
    session: Session,
    conversation: Conversation,
    replies: Sequence[OutboundText],
    *,
    now: datetime,
    sender: str = "bot",
    in_reply_to: int | None = None,
    status: str = "processed",
) -> list[Message]:
    """Store replies in order (ids increase, so history shows them as sent)."""
    require_aware(now)
    values = _outbound(conversation.id, replies, now, sender, in_reply_to, status)
    rows = [Message(**row) for row in values]
    for row in rows:  # one by one: the ids must follow the reply order
        session.add(row)
        session.flush()
    if conversation.last_activity_at < now:
        conversation.last_activity_at = now
    return rows


def record_answer(
    session: Session,
    *,
    conversation_pk: int,
    inbound_id: int,
    replies: Sequence[OutboundText],
    now: datetime,
    inbound_status: str,
    sender: str = "bot",
    intent: tuple[str | None, float | None] | None = None,
) -> list[int]:
    """The replies to a customer message stored, the message's status set and (`intent`: name,
    confidence) what NLU understood of it recorded, in the caller's transaction: the replies'
    ids, in order. By the conversation's primary key: nothing is read back first."""
    require_aware(now)
    connection = session.connection()
    ids = [  # one by one: the ids must follow the reply order
        _inserted_id(connection.execute(_INSERT_MESSAGE, values))
        for values in _outbound(conversation_pk, replies, now, sender, inbound_id, "processed")
    ]
    connection.execute(_ACTIVITY, {"pk": conversation_pk, "at": now})
    if intent is None:
        connection.execute(_STATUS, {"message": inbound_id, "new_status": inbound_status})
    else:
        values = {"message": inbound_id, "new_status": inbound_status, "name": intent[0]}
        connection.execute(_STATUS_INTENT, {**values, "confidence": intent[1]})
    return ids


# Built once: every turn runs them (a statement built per call costs more than running it).
# The per-message ones are Core statements on the tables (no ORM execution layer).
_CONVERSATIONS = cast(Table, Conversation.__table__)
_MESSAGES = cast(Table, Message.__table__)
_CONVERSATION = select(Conversation).where(Conversation.conversation_id == bindparam("cid"))
_CONVERSATION_REF = select(
    _CONVERSATIONS.c.id,
    _CONVERSATIONS.c.conversation_id,
    _CONVERSATIONS.c.channel,
    _CONVERSATIONS.c.chat_id,
    _CONVERSATIONS.c.user_id,
    _CONVERSATIONS.c.language,
).where(_CONVERSATIONS.c.conversation_id == bindparam("cid"))
_INBOUND_ID_BY_EXTERNAL_ID = select(_MESSAGES.c.id).where(
    _MESSAGES.c.conversation_pk == bindparam("pk"),
    _MESSAGES.c.direction == "in",
    _MESSAGES.c.external_id == bindparam("external"),
)
_INSERT_MESSAGE = insert(_MESSAGES)
# every insert names the same columns, so its compiled form is cached once
_NO_REPLY: dict[str, Any] = {
    "buttons": [],
    "attachments": [],
    "image": None,
    "external_id": None,
    "in_reply_to_id": None,
}
_ACTIVITY = (
    update(_CONVERSATIONS)
    .where(
        _CONVERSATIONS.c.id == bindparam("pk"),
        _CONVERSATIONS.c.last_activity_at < bindparam("at"),
    )
    .values(last_activity_at=bindparam("at"))
)
_USER_LANGUAGE = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("pk"))
    .values(user_id=bindparam("user"), language=bindparam("lang"))
)
_STATUS = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message"))
    .values(status=bindparam("new_status"))
)
_STATUS_INTENT = _STATUS.values(intent=bindparam("name"), intent_confidence=bindparam("confidence"))
_PENDING = (
    select(_MESSAGES.c.id)
    .where(_MESSAGES.c.conversation_pk == bindparam("pk"), _MESSAGES.c.status == "pending")
    .limit(1)
)


def _inserted_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every insert here has a primary key
        raise RuntimeError("the insert returned no primary key")
    return int(key[0])


def has_pending(session: Session, conversation_pk: int) -> bool:
    """Whether the conversation has customer messages waiting for Rasa ('pending')."""
    return session.connection().execute(_PENDING, {"pk": conversation_pk}).first() is not None


def _outbound(
    conversation_pk: int,
    replies: Sequence[OutboundText],
    now: datetime,
    sender: str,
    in_reply_to: int | None,
    status: str,
) -> list[dict[str, Any]]:
    """The rows (column values) of outbound messages, in reply order."""
    return [
        {
            **_NO_REPLY,
            "conversation_pk": conversation_pk,
            "direction": "out",
            "sender": sender,
            "text": reply.text,
            "buttons": [dict(b) for b in reply.buttons],
            "image": reply.image,
            "status": status,
            "in_reply_to_id": in_reply_to,
            "created_at": now,
        }
        for reply in replies
    ]


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


def set_intent(
    session: Session, message_id: int, intent: str | None, confidence: float | None
) -> None:
    """Record what NLU understood of a customer message (reports and handoff need it)."""
    stmt = (
        update(Message)
        .where(Message.id == message_id)
        .values(intent=intent, intent_confidence=confidence)
    )
    session.execute(stmt.execution_options(synchronize_session=False))


def count_pending(session: Session) -> int:
    stmt = select(func.count()).select_from(Message).where(Message.status == "pending")
    return int(session.scalar(stmt) or 0)


def pending_conversations(session: Session, limit: int = 100) -> list[str]:
    """Conversations with pending customer messages, the longest-waiting first."""
    first = func.min(Message.id)
    stmt = (
        select(Conversation.conversation_id)
        .join(Message, Message.conversation_pk == Conversation.id)
        .where(Message.status == "pending")
        .group_by(Conversation.conversation_id)
        .order_by(first)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def pending_inbound(session: Session, conversation_id: str) -> list[Message]:
    """A conversation's pending customer messages, oldest first."""
    stmt = (
        select(Message)
        .join(Conversation, Message.conversation_pk == Conversation.id)
        .where(Conversation.conversation_id == conversation_id, Message.status == "pending")
        .order_by(Message.id)
    )
    return list(session.scalars(stmt))


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


def replies_to(session: Session, message_id: int) -> list[Message]:
    """The stored answers to one customer message, in order."""
    stmt = select(Message).where(Message.in_reply_to_id == message_id).order_by(Message.id)
    return list(session.scalars(stmt))


def recover_stale(session: Session, *, received_before: datetime) -> int:
    """Customer messages stuck in 'received' since before `received_before` (their process died
    mid-turn) become 'pending' again, for the retry worker; returns how many."""
    require_aware(received_before, "received_before")
    stmt = (
        update(Message)
        .where(
            Message.direction == "in",
            Message.status == "received",
            Message.created_at < received_before,
        )
        .values(status="pending")
    )
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0))
