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

from sqlalchemy import CursorResult, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Conversation, Message, MessageDirection, MessageSender, MessageStatus
from store.services.message_status import (
    claim_undelivered,
    count_pending,
    pending_conversations,
    pending_inbound,
    recover_stale,
    release_unsent,
    set_status,
    undelivered_conversations,
)
from store.services.transcript_reads import created_at_of, message, ping, recent, replies_to
from store.services.upserts import insert_ignore
from store.sla import require_aware

__all__ = [  # with the re-exported statuses and reads (message_status.py, transcript_reads.py)
    "AlreadyAnswered",
    "Conversation",
    "ConversationRef",
    "DuplicateMessage",
    "Message",
    "OutboundText",
    "StoredRow",
    "claim_undelivered",
    "conversation_by_pk",
    "conversation_language",
    "conversation_pk",
    "count_pending",
    "created_at_of",
    "find_inbound",
    "find_inbound_id",
    "get_conversation",
    "has_pending",
    "message",
    "open_conversation",
    "pending_conversations",
    "pending_inbound",
    "ping",
    "recent",
    "record_answer",
    "record_inbound",
    "record_outbound",
    "recover_stale",
    "release_unsent",
    "replies_to",
    "set_intent",
    "set_status",
    "touch_conversation",
    "undelivered_conversations",
]


class DuplicateMessage(Exception):
    """A message with this external id is already stored for the conversation."""

    def __init__(self, conversation_id: str, external_id: str) -> None:
        super().__init__(f"{conversation_id}: message {external_id!r} was already received")
        self.conversation_id = conversation_id
        self.external_id = external_id


class AlreadyAnswered(Exception):
    """The customer message is no longer in the status its answer expected: somebody else
    (another turn, another gateway process) answered or re-queued it first."""

    def __init__(self, message_id: int, expected: str) -> None:
        super().__init__(f"message {message_id} is no longer {expected!r}")
        self.message_id = message_id


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


def conversation_by_pk(session: Session, conversation_pk: int) -> Conversation | None:
    """The conversation by its row id (from the session when loaded already)."""
    return session.get(Conversation, conversation_pk)


def conversation_pk(session: Session, conversation_id: str) -> int | None:
    """The conversation's row id (the console's handle), None when it is unknown."""
    stmt = select(Conversation.id).where(Conversation.conversation_id == conversation_id)
    return session.scalars(stmt).first()


def conversation_language(session: Session, conversation_id: str) -> str | None:
    """The language the conversation last used; None when it has none or is unknown."""
    stmt = select(Conversation.language).where(Conversation.conversation_id == conversation_id)
    return session.scalar(stmt)


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


def find_inbound(
    session: Session, conversation: _ConversationKeys, external_id: str
) -> tuple[int, str] | None:
    """The id and status of the conversation's customer message with this external id."""
    params = {"pk": conversation.id, "external": external_id}
    row = session.connection().execute(_INBOUND_BY_EXTERNAL_ID, params).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def record_inbound(
    session: Session,
    conversation: _ConversationKeys,
    *,
    text: str,
    now: datetime,
    external_id: str | None = None,
    attachments: Sequence[dict[str, Any]] = (),
    status: str = MessageStatus.RECEIVED,
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
        "direction": MessageDirection.IN,
        "sender": MessageSender.CUSTOMER,
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
    sender: str = MessageSender.BOT,
    in_reply_to: int | None = None,
    status: str = MessageStatus.PROCESSED,
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
    sender: str = MessageSender.BOT,
    intent: tuple[str | None, float | None] | None = None,
    expected: str | None = None,
    outbound_status: str = MessageStatus.PROCESSED,
) -> list[int]:
    """The replies to a customer message stored, the message's status set and (`intent`: name,
    confidence) what NLU understood of it recorded, in the caller's transaction: the replies'
    ids, in order. By the conversation's primary key: nothing is read back first.

    `expected`: the message must still be in that status (a compare-and-set, before anything
    is written), else AlreadyAnswered: of two turns that both claimed it (a gateway that
    re-queued what a live one was answering), exactly one stores an answer.
    `outbound_status`: 'pending' for replies the router has still to hand to the channel
    (tracked delivery: a crash before that leaves them to be sent after the restart).
    """
    require_aware(now)
    connection = session.connection()
    values: dict[str, Any] = {"message": inbound_id, "new_status": inbound_status}
    if intent is not None:
        values.update(name=intent[0], confidence=intent[1])
    if expected is not None:
        values["expected"] = expected
    statement = _STATUS_UPDATES[(intent is not None, expected is not None)]
    changed = connection.execute(statement, values)
    if expected is not None and not changed.rowcount:
        raise AlreadyAnswered(inbound_id, expected)
    ids = [  # one by one: the ids must follow the reply order
        _inserted_id(connection.execute(_INSERT_MESSAGE, row))
        for row in _outbound(conversation_pk, replies, now, sender, inbound_id, outbound_status)
    ]
    connection.execute(_ACTIVITY, {"pk": conversation_pk, "at": now})
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
    _MESSAGES.c.direction == MessageDirection.IN,
    _MESSAGES.c.external_id == bindparam("external"),
)
_INBOUND_BY_EXTERNAL_ID = select(_MESSAGES.c.id, _MESSAGES.c.status).where(
    _MESSAGES.c.conversation_pk == bindparam("pk"),
    _MESSAGES.c.direction == MessageDirection.IN,
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
_IF_EXPECTED = _MESSAGES.c.status == bindparam("expected")
_STATUS_UPDATES = {  # (with the intent, compare-and-set): the answer's status update
    (False, False): _STATUS,
    (True, False): _STATUS_INTENT,
    (False, True): _STATUS.where(_IF_EXPECTED),
    (True, True): _STATUS_INTENT.where(_IF_EXPECTED),
}
_PENDING = (
    select(_MESSAGES.c.id)
    .where(
        _MESSAGES.c.conversation_pk == bindparam("pk"), _MESSAGES.c.status == MessageStatus.PENDING
    )
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
            "direction": MessageDirection.OUT,
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
