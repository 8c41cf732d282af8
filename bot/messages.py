"""Channel-neutral message types shared by every adapter, the router and the transcript store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from store.statuses import MessageDirection, MessageSender

AttachmentKind = Literal[
    "location", "photo", "voice", "audio", "video", "sticker", "document", "contact", "other"
]


@dataclass(frozen=True, slots=True)
class Attachment:
    """Something other than text that arrived with a message (a shared location, a photo, ...)."""

    kind: AttachmentKind
    data: dict[str, Any] = field(default_factory=dict)
    """Kind-specific facts, e.g. {"latitude": 30.1, "longitude": 120.2} for a location."""


@dataclass(frozen=True, slots=True)
class Button:
    title: str
    payload: str
    """What is sent back to Rasa when the button is pressed (e.g. '/affirm' or plain text)."""


CLIENT_ADDRESS: Final = "client_address"
"""`Inbound.metadata` key: where the customer wrote from (bot/clientaddr.py `limit_key`), when
the channel knows it. Rasa gets it with the message: identity verification counts failures per
address (store/services/verification.py)."""
UNKNOWN_ADDRESS: Final = "unknown"


def client_metadata(address: str | None) -> dict[str, Any]:
    """`Inbound.metadata` naming the client; empty when its address is not known."""
    return {CLIENT_ADDRESS: address} if address and address != UNKNOWN_ADDRESS else {}


@dataclass(frozen=True, slots=True)
class Inbound:
    """One customer message, normalised.

    `conversation_id` is the Rasa sender id and the transcript key: `<channel>:<chat_id>`
    (a Telegram private chat, a web-chat browser session, an API sender).
    `external_id` identifies the message at its source (e.g. a Telegram update_id) so a
    redelivered message is recognised and handled once; None when the source has no such id.
    """

    channel: str
    chat_id: str
    user_id: str
    text: str
    external_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    language: str | None = None
    """'zh' or 'en' when the channel knows it (web-chat toggle, Telegram language_code)."""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        return f"{self.channel}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class Reply:
    """One bot (or, later, agent) message to deliver."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    image: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image:
            data["image"] = self.image
        return data


@dataclass(frozen=True, slots=True)
class HandleResult:
    """What `Router.handle` returns to the channel that received the message."""

    conversation_id: str
    replies: tuple[Reply, ...]
    duplicate: bool = False
    """The message was seen before (redelivery) and answered (or being answered): nothing was
    re-processed; replies are empty. A message stored but never answered (its gateway died)
    is answered when it comes again: not a duplicate."""
    degraded: bool = False
    """Rasa or the action server did not answer: the replies are the '系统繁忙' notice and the
    message is kept as pending, to be processed (and answered through the channel) later."""
    delivered: bool = False
    """`handle(..., push=True)`: the router has sent the replies through the channel itself."""


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One stored message of a conversation, as channels show history (e.g. after a reload)."""

    direction: MessageDirection
    """'in': from the customer; 'out': from the bot (or an agent)."""
    text: str
    buttons: tuple[Button, ...] = ()
    at: str = ""
    """ISO-8601 timestamp with offset."""
    sender: str = MessageSender.BOT
    """'customer', 'bot', 'agent' or 'system'."""
    withheld: bool = False
    """A reply that showed account data under an identity verification that is over: a replay
    shows a notice instead (store/services/identity.py)."""
