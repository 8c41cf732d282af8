"""The gateway's transcript: conversations and their messages in either direction."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, check_in, values


class MessageDirection(StrEnum):
    IN = "in"
    OUT = "out"


class MessageSender(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    """Inbound: 'received' (stored, being handled), 'processed' (answered), 'pending' (Rasa was
    down, or its gateway died mid-turn: answered later by the retry worker), 'failed' (Rasa
    refused it). Outbound: 'processed' (handed to the channel) or 'failed' (the channel could
    not deliver it); a reply the router sends itself (Telegram, bot/outbox.py) is 'pending'
    until then and 'received' while being sent."""

    RECEIVED = "received"
    PROCESSED = "processed"
    PENDING = "pending"
    FAILED = "failed"


MESSAGE_DIRECTIONS = values(MessageDirection)
MESSAGE_SENDERS = values(MessageSender)
MESSAGE_STATUSES = values(MessageStatus)


class Conversation(Base):
    """A customer conversation as the gateway sees it, keyed by Rasa's sender id."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), unique=True)
    """`<channel>:<chat_id>`, e.g. 'telegram:12345': the Rasa sender id and tickets' sender_id."""
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    """Language of the customer's last message ('zh'/'en'); notifications use it."""
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]


class Message(Base):
    """One message of a transcript, in either direction.

    (conversation_pk, external_id) is unique: a message redelivered by its channel (same
    Telegram update, same API message_id) cannot be stored, hence not processed, twice, even
    by two gateway processes at once. NULL external ids never collide.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_pk", "external_id"),
        CheckConstraint(check_in("direction", MessageDirection), name="direction"),
        CheckConstraint(check_in("sender", MessageSender), name="sender"),
        CheckConstraint(check_in("status", MessageStatus), name="status"),
        Index("ix_messages_conversation_pk_id", "conversation_pk", "id"),
        Index("ix_messages_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_pk: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    """conversations.id (the row), not the `<channel>:<chat_id>` string."""
    direction: Mapped[str] = mapped_column(String(3))
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(128))
    intent_confidence: Mapped[float | None]
    in_reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    """Outbound: the customer message this answers (None for notifications)."""
    created_at: Mapped[datetime]

    conversation: Mapped[Conversation] = relationship()
