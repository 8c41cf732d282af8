"""The NLU inbox's writes when a customer message lands in it (nlu.inbox captures: it decides
what lands and which item a message joins). Every function takes the caller's session and
flushes; the caller commits.

An item collects hits: `open_item_with_key` / `recent_open_keys` are what capture compares a
new message with, `new_open_item` creates an item, `count_hit` counts one message in one (the
unique (item, message) pair decides: a message reported twice, e.g. low confidence and then
flagged, adds its reason without being counted again). Only *open* items collect hits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, aliased

from store.models import (
    NLU_INBOX_OPEN_WHERE,
    NLU_INBOX_REASONS,
    Conversation,
    Message,
    MessageDirection,
    MessageSender,
    NluInboxHit,
    NluInboxItem,
    NluInboxStatus,
)
from store.services.nlu_inbox import InboxError, NotABotReply, NotFound, add_note
from store.services.upserts import insert_ignore
from store.sla import require_aware

TEXT_CHARS: Final = 1000
"""An item's representative text is cut to this many characters."""
GROUP_KEY_CHARS: Final = 255
"""Group keys (normalised texts) are stored and compared on their first this many characters."""


def check_reason(reason: str) -> None:
    if reason not in NLU_INBOX_REASONS:
        raise InboxError(f"unknown inbox reason {reason!r}")


def open_item_with_key(session: Session, key: str) -> NluInboxItem | None:
    """The open item of this group key, if any."""
    return session.scalars(
        select(NluInboxItem)
        .where(NluInboxItem.status == NluInboxStatus.OPEN, NluInboxItem.group_key == key)
        .order_by(NluInboxItem.id)
        .limit(1)
    ).first()


def recent_open_keys(session: Session, limit: int) -> list[tuple[int, str]]:
    """(id, group key) of the `limit` most recently seen open items, the most recent first."""
    rows = session.execute(
        select(NluInboxItem.id, NluInboxItem.group_key)
        .where(NluInboxItem.status == NluInboxStatus.OPEN)
        .order_by(NluInboxItem.last_seen_at.desc(), NluInboxItem.id.desc())
        .limit(limit)
    ).all()
    return [(item_id, key) for item_id, key in rows]


def new_open_item(session: Session, key: str, text: str, now: datetime) -> NluInboxItem:
    """The open item of `key` (its text `text`, cut to TEXT_CHARS), created now unless a
    concurrent capture just did (the partial unique index on open items' group_key decides;
    INSERT ... ON CONFLICT DO NOTHING)."""
    insert_ignore(
        session,
        NluInboxItem,
        {
            "group_key": key,
            "text": text[:TEXT_CHARS],
            "count": 0,
            "reasons_text": "",
            "status": NluInboxStatus.OPEN,
            "first_seen_at": now,
            "last_seen_at": now,
        },
        [NluInboxItem.group_key],
        index_where=sql_text(NLU_INBOX_OPEN_WHERE),  # literally: PostgreSQL infers the index
    )
    stmt = select(NluInboxItem).where(
        NluInboxItem.status == NluInboxStatus.OPEN, NluInboxItem.group_key == key
    )
    return session.scalars(stmt).one()


def count_hit(
    session: Session,
    item: NluInboxItem,
    *,
    message_id: int | None,
    conversation_id: str | None,
    reason: str,
    predicted_intent: str | None,
    confidence: float | None,
    flagged_by: int | None,
    note: str | None,
    now: datetime,
) -> NluInboxItem:
    """Count one message in the item, once per (item, message): a message already counted
    only adds its reason (and the intent or note it brings)."""
    check_reason(reason)
    require_aware(now)
    counted = insert_ignore(
        session,
        NluInboxHit,
        {
            "item_id": item.id,
            "message_id": message_id,
            "conversation_id": conversation_id,
            "reason": reason,
            "confidence": confidence,
            "predicted_intent": predicted_intent,
            "flagged_by": flagged_by,
            "created_at": now,
        },
        [NluInboxHit.item_id, NluInboxHit.message_id],
    )
    if counted:  # in SQL: two processes counting at once both count
        item.count = NluInboxItem.count + 1
    elif predicted_intent is not None or flagged_by is not None:
        _complete_hit(session, item.id, message_id, predicted_intent, confidence, flagged_by)
    item.reasons = {*item.reasons, reason}
    if predicted_intent is not None:
        item.predicted_intent = predicted_intent
        item.confidence = confidence
    if now > item.last_seen_at:
        item.last_seen_at = now
    if note and note.strip():
        item.note = add_note(item.note, note.strip())
    session.flush()
    return item


def _complete_hit(
    session: Session,
    item_id: int,
    message_id: int | None,
    predicted_intent: str | None,
    confidence: float | None,
    flagged_by: int | None,
) -> None:
    """A message counted before (e.g. at handoff, before its intent was known): fill in what
    the later report knows."""
    hit = session.scalars(
        select(NluInboxHit).where(
            NluInboxHit.item_id == item_id, NluInboxHit.message_id == message_id
        )
    ).first()
    if hit is None:  # pragma: no cover - the insert above found it
        return
    if predicted_intent is not None and hit.predicted_intent is None:
        hit.predicted_intent = predicted_intent
        hit.confidence = confidence
    if flagged_by is not None and hit.flagged_by is None:
        hit.flagged_by = flagged_by


def answered_messages(
    session: Session, conversation_pk: int, limit: int
) -> tuple[list[Message], str | None]:
    """The conversation's last `limit` customer messages that the bot answered (oldest
    first), and the conversation's id."""
    reply = aliased(Message)
    answered = (
        select(reply.id)
        .where(reply.in_reply_to_id == Message.id, reply.sender == MessageSender.BOT)
        .exists()
    )
    rows = session.scalars(
        select(Message)
        .where(
            Message.conversation_pk == conversation_pk,
            Message.direction == MessageDirection.IN,
            Message.sender == MessageSender.CUSTOMER,
            answered,
        )
        .order_by(Message.id.desc())
        .limit(max(0, limit))
    ).all()
    conversation_id = session.scalar(
        select(Conversation.conversation_id).where(Conversation.id == conversation_pk)
    )
    return list(reversed(rows)), conversation_id


def flagged_question(session: Session, reply_id: int) -> tuple[Message, str]:
    """The customer message the bot's reply `reply_id` answered, and its conversation's id.
    `NotFound` for an unknown message, `NotABotReply` for one that is not a bot's reply."""
    reply = session.get(Message, reply_id)
    if reply is None:
        raise NotFound(f"no message {reply_id}")
    if reply.direction != MessageDirection.OUT or reply.sender != MessageSender.BOT:
        raise NotABotReply(f"message {reply_id} is not a reply of the bot")
    asked = session.get(Message, reply.in_reply_to_id) if reply.in_reply_to_id else None
    if asked is None:
        raise NotABotReply(f"message {reply_id} answers no customer message")
    return asked, reply.conversation.conversation_id
