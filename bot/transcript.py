"""The router's view of the transcript store: async, in `bot.messages` types.

Every call is one short unit of work run in a worker thread (`store.db.in_thread`: SQLAlchemy
sessions are synchronous), so the event loop never waits on the database and no transaction
stays open while Rasa thinks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from bot.messages import CLIENT_ADDRESS, Attachment, Button, Inbound, Reply, TranscriptEntry
from store.db import in_thread
from store.services import identity, transcripts
from store.services.transcripts import AlreadyAnswered, DuplicateMessage, OutboundText
from store.statuses import MessageDirection, MessageSender, MessageStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from store.services.transcripts import Message

__all__ = [
    "AlreadyAnswered",
    "Received",
    "StoredInbound",
    "Transcript",
    "message_key",
    "split_conversation_id",
]

T = TypeVar("T")


@dataclass(frozen=True)
class StoredInbound:
    """A customer message as stored: what the router needs to process it (again) later."""

    id: int
    conversation_id: str
    conversation_pk: int
    """The conversation's row id (conversations.id)."""
    channel: str
    chat_id: str
    user_id: str | None
    text: str
    language: str
    created_at: datetime
    attachments: tuple[dict[str, Any], ...] = field(default=())
    client_address: str | None = None
    """Where the customer wrote from, when the channel said (not kept: None after a restart)."""

    @property
    def key(self) -> str:
        """Identifies the message in Rasa's tracker (metadata of its user event)."""
        return message_key(self.id, self.created_at)


def message_key(message_id: int, created_at: datetime) -> str:
    """A customer message's key in Rasa's tracker and in the identity disclosures. The time is
    part of it because ids start again in a new database while trackers live on."""
    return f"{message_id}@{created_at.timestamp():.6f}"


@dataclass(frozen=True)
class Received(Generic[T]):
    """A customer message just stored (`Transcript.receive`)."""

    stored: StoredInbound
    earlier_pending: bool
    """Whether messages of the conversation wait for Rasa ('pending': they go first)."""
    then: T | None
    """What the `then` callback returned (None without one)."""


def _attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {"kind": attachment.kind, "data": dict(attachment.data)}


def _outbound(reply: Reply) -> OutboundText:
    buttons = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
    return OutboundText(reply.text, buttons, reply.image)


def _reply(row: Message) -> Reply:
    buttons = tuple(Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in row.buttons)
    return Reply(text=row.text, buttons=buttons, image=row.image)


def _stored(row: Message) -> StoredInbound:
    return StoredInbound(
        id=row.id,
        conversation_id=row.conversation.conversation_id,
        conversation_pk=row.conversation_pk,
        channel=row.conversation.channel,
        chat_id=row.conversation.chat_id,
        user_id=row.conversation.user_id,
        text=row.text,
        language=row.conversation.language or "zh",
        created_at=row.created_at,
        attachments=tuple(row.attachments),
    )


def _entry(row: Message) -> TranscriptEntry:
    return TranscriptEntry(
        direction=MessageDirection.IN
        if row.direction == MessageDirection.IN
        else MessageDirection.OUT,
        text=row.text,
        buttons=_reply(row).buttons,
        at=row.created_at.isoformat(),
        sender=row.sender,
    )


def _client_address(message: Inbound) -> str | None:
    address = message.metadata.get(CLIENT_ADDRESS)
    return address if isinstance(address, str) and address else None


def _keys(session: Session, rows: Sequence[Message]) -> dict[int, str]:
    """The keys of the customer messages among `rows` and of those the replies answer."""
    keys = {
        row.id: message_key(row.id, row.created_at)
        for row in rows
        if row.direction == MessageDirection.IN
    }
    answered = {row.in_reply_to_id for row in rows if row.in_reply_to_id is not None}
    for message_id, created_at in transcripts.created_at_of(session, answered - set(keys)):
        keys[message_id] = message_key(message_id, created_at)
    return keys


_DIGIT: Final = re.compile(r"\d")


def _replay(row: Message, keys: dict[int, str], masks: identity.HistoryMasks) -> TranscriptEntry:
    entry = _entry(row)
    if row.direction == MessageDirection.IN and keys.get(row.id) in masks.answers:
        return replace(entry, text=_DIGIT.sub("*", entry.text))
    if row.in_reply_to_id is not None and keys.get(row.in_reply_to_id) in masks.data:
        return replace(entry, text="", buttons=(), withheld=True)
    return entry


def split_conversation_id(conversation_id: str) -> tuple[str, str]:
    """'telegram:123' → ('telegram', '123'); ('', id) when there is no channel prefix."""
    channel, sep, chat_id = conversation_id.partition(":")
    return (channel, chat_id) if sep and channel and chat_id else ("", conversation_id)


class Transcript:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.factory = factory
        """Where the transcript is (the router's other database work uses it too)."""
        self._clock = clock

    async def receive(
        self,
        message: Inbound,
        *,
        text: str,
        status: str,
        language: Callable[[str | None], str],
        then: Callable[[Session, StoredInbound], T] | None = None,
    ) -> Received[T] | None:
        """Store a customer message; None when it is a redelivery (nothing stored).

        `language` picks the message's language from the conversation's previous one. `then`
        runs in the same transaction once the message is stored (the handoff desk's gate), so
        a turn's decisions before Rasa cost one round trip to the database; if it raises,
        nothing is stored. The answer also says whether earlier messages of the conversation
        wait for Rasa ('pending').
        """
        now = self._clock()
        attachments = [_attachment_json(a) for a in message.attachments]

        def work(session: Session) -> Received[T]:
            conversation = transcripts.open_conversation(
                session,
                conversation_id=message.conversation_id,
                channel=message.channel,
                chat_id=message.chat_id,
                user_id=message.user_id or None,
                language=language,
                now=now,
            )
            row = transcripts.record_inbound(
                session,
                conversation,
                text=text,
                now=now,
                external_id=message.external_id,
                attachments=attachments,
                status=status,
            )
            stored = StoredInbound(
                id=row.id,
                conversation_id=conversation.conversation_id,
                conversation_pk=conversation.id,
                channel=conversation.channel,
                chat_id=conversation.chat_id,
                user_id=conversation.user_id,
                text=text,
                language=conversation.language or "zh",
                created_at=row.created_at,
                attachments=tuple(attachments),
                client_address=_client_address(message),
            )
            waiting = transcripts.has_pending(session, conversation.id)
            return Received(stored, waiting, then(session, stored) if then else None)

        try:
            return await in_thread(self.factory, work)
        except DuplicateMessage:
            return None

    async def regate(
        self, stored: StoredInbound, then: Callable[[Session, StoredInbound], T] | None
    ) -> Received[T]:
        """For a message stored earlier (`receive` without `then`, while an earlier message of
        the conversation was being answered), now that its turn has come: `then` (the handoff
        desk's gate) and the look for earlier pending messages, in one transaction."""

        def work(session: Session) -> Received[T]:
            result = then(session, stored) if then else None
            return Received(
                stored, transcripts.has_pending(session, stored.conversation_pk), result
            )

        return await in_thread(self.factory, work)

    async def unanswered(
        self, conversation_id: str, external_id: str
    ) -> tuple[StoredInbound, str] | None:
        """A customer message known by its external id that was stored but never answered
        (status 'pending' or 'received'), with that status; None otherwise."""

        def work(session: Session) -> tuple[StoredInbound, str] | None:
            conversation = transcripts.get_conversation(session, conversation_id)
            if conversation is None:
                return None
            found = transcripts.find_inbound(session, conversation, external_id)
            if found is None or found[1] not in (MessageStatus.PENDING, MessageStatus.RECEIVED):
                return None
            row = transcripts.message(session, found[0])
            return (_stored(row), found[1]) if row is not None else None

        return await in_thread(self.factory, work)

    async def answer(
        self,
        inbound_id: int,
        conversation_id: str,
        replies: Sequence[Reply],
        *,
        inbound_status: str,
        sender: str = MessageSender.BOT,
        expected: str | None = None,
        outbound_status: str = MessageStatus.PROCESSED,
    ) -> list[int]:
        """Store replies to a customer message and set its status, in one transaction (so a
        message is never 'processed' without its replies); the replies' ids. `expected`: the
        message must still be in that status (AlreadyAnswered otherwise, nothing stored);
        `outbound_status`: as `transcripts.record_answer`'s."""
        now = self._clock()

        def work(session: Session) -> list[int]:
            changed = transcripts.set_status(
                session, [inbound_id], inbound_status, expected=expected
            )
            if expected is not None and not changed:
                raise AlreadyAnswered(inbound_id, expected)
            conversation = transcripts.get_conversation(session, conversation_id)
            if conversation is None:  # pragma: no cover - stored before it was answered
                raise LookupError(conversation_id)
            rows = transcripts.record_outbound(
                session,
                conversation,
                [_outbound(r) for r in replies],
                now=now,
                sender=sender,
                in_reply_to=inbound_id,
                status=outbound_status,
            )
            return [r.id for r in rows]

        return await in_thread(self.factory, work)

    async def answer_turn(
        self,
        stored: StoredInbound,
        replies: Sequence[Reply],
        *,
        intent: tuple[str | None, float | None] | None,
        then: Callable[[Session], T],
        outbound_status: str = MessageStatus.PROCESSED,
    ) -> T:
        """The bot's replies to a message Rasa answered, stored with the message 'processed'
        and (`intent`: name, confidence) what NLU understood of it, in one transaction with
        `then` (the handoff desk's look for a waiting request); `then`'s result. The message
        must still be 'received' (its turn's claim), else AlreadyAnswered and nothing is
        stored: one answer per message, even when two turns claimed it."""
        now = self._clock()
        outbound = [_outbound(r) for r in replies]

        def work(session: Session) -> T:
            transcripts.record_answer(
                session,
                conversation_pk=stored.conversation_pk,
                inbound_id=stored.id,
                replies=outbound,
                now=now,
                inbound_status=MessageStatus.PROCESSED,
                intent=intent,
                expected=MessageStatus.RECEIVED,
                outbound_status=outbound_status,
            )
            return then(session)

        return await in_thread(self.factory, work)

    async def deliver(
        self,
        conversation_id: str,
        replies: Sequence[Reply],
        *,
        sender: str,
        status: str = MessageStatus.PROCESSED,
    ) -> tuple[list[int], str | None]:
        """Store messages the bot starts (notifications, later agents' messages); the ids and
        the conversation's language. Creates the conversation when it is new to the gateway.
        `status` 'pending': the router has still to hand them to the channel."""
        now = self._clock()
        channel, chat_id = split_conversation_id(conversation_id)

        def work(session: Session) -> tuple[list[int], str | None]:
            conversation = transcripts.get_conversation(session, conversation_id)
            if conversation is None:
                conversation = transcripts.touch_conversation(
                    session,
                    conversation_id=conversation_id,
                    channel=channel or "unknown",
                    chat_id=chat_id,
                    now=now,
                )
            rows = transcripts.record_outbound(
                session,
                conversation,
                [_outbound(r) for r in replies],
                now=now,
                sender=sender,
                status=status,
            )
            return [r.id for r in rows], conversation.language

        return await in_thread(self.factory, work)

    async def language_of(self, conversation_id: str) -> str | None:
        def work(session: Session) -> str | None:
            conversation = transcripts.get_conversation(session, conversation_id)
            return conversation.language if conversation is not None else None

        return await in_thread(self.factory, work)

    async def set_status(
        self, message_ids: Sequence[int], status: str, *, expected: str | None = None
    ) -> int:
        ids = list(message_ids)
        return await in_thread(
            self.factory, lambda s: transcripts.set_status(s, ids, status, expected=expected)
        )

    async def set_intent(self, message_id: int, name: str | None, confidence: float | None) -> None:
        await in_thread(
            self.factory, lambda s: transcripts.set_intent(s, message_id, name, confidence)
        )

    async def count_pending(self) -> int:
        return await in_thread(self.factory, transcripts.count_pending)

    async def pending_conversations(self) -> list[str]:
        return await in_thread(self.factory, transcripts.pending_conversations)

    async def pending_inbound(
        self, conversation_id: str, before: int | None = None
    ) -> list[StoredInbound]:
        """The conversation's pending customer messages (older than message `before`)."""

        def work(session: Session) -> list[StoredInbound]:
            rows = transcripts.pending_inbound(session, conversation_id, before)
            return [_stored(row) for row in rows]

        return await in_thread(self.factory, work)

    async def recover_stale(self, received_before: datetime, exclude: Sequence[int] = ()) -> int:
        ids = list(exclude)
        return await in_thread(
            self.factory,
            lambda s: transcripts.recover_stale(s, received_before=received_before, exclude=ids),
        )

    async def undelivered_conversations(self) -> list[str]:
        return await in_thread(self.factory, transcripts.undelivered_conversations)

    async def claim_undelivered(self, conversation_id: str) -> list[tuple[int, Reply]]:
        """The conversation's replies not yet handed to its channel, claimed for sending
        (`transcripts.claim_undelivered`): (id, reply), in order."""

        def work(session: Session) -> list[tuple[int, Reply]]:
            rows = transcripts.claim_undelivered(session, conversation_id)
            return [(row.id, _reply(row)) for row in rows]

        return await in_thread(self.factory, work)

    async def release_unsent(self, stored_before: datetime, exclude: Sequence[int] = ()) -> int:
        ids = list(exclude)
        return await in_thread(
            self.factory,
            lambda s: transcripts.release_unsent(s, stored_before=stored_before, exclude=ids),
        )

    async def history(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        """The conversation's last messages, oldest first, as a replay may show them now: the
        customer's answers to the identity check masked, and replies that showed account data
        withheld once their verification is over (store/services/identity.py)."""
        now = self._clock()

        def work(session: Session) -> list[TranscriptEntry]:
            rows = transcripts.recent(session, conversation_id, limit)
            keys = _keys(session, rows)
            masks = identity.history_masks(
                session, sender_id=conversation_id, message_keys=set(keys.values()), now=now
            )
            return [_replay(row, keys, masks) for row in rows]

        return await in_thread(self.factory, work)

    async def replies_for(self, conversation_id: str, external_id: str) -> list[Reply]:
        """The stored answers to a customer message known by its external id (a retried API
        call gets the same answer again)."""

        def work(session: Session) -> list[Reply]:
            conversation = transcripts.get_conversation(session, conversation_id)
            if conversation is None:
                return []
            inbound_id = transcripts.find_inbound_id(session, conversation, external_id)
            if inbound_id is None:
                return []
            return [_reply(row) for row in transcripts.replies_to(session, inbound_id)]

        return await in_thread(self.factory, work)

    async def ping(self) -> bool:
        """True when the database answers."""

        try:
            return await in_thread(self.factory, transcripts.ping)
        except Exception:
            return False
