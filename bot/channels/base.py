"""The outbound side every channel adapter implements (inbound goes through `Router.handle`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol

from bot.messages import HandleResult, Inbound, Reply, TranscriptEntry


class Channel(ABC):
    """An adapter the router can push replies through, also later (retries, notifications).

    Each adapter registers itself with `Router.register(channel)` at start-up; `name` is the
    prefix of its conversation ids (`<name>:<chat_id>`).
    """

    name: str

    @abstractmethod
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies to a chat. Raises on delivery failure (the router logs and retries)."""

    async def typing(self, chat_id: str) -> None:  # noqa: B027 - optional for channels without it
        """Show that the bot is working (Telegram's chat action, the web chat's dots)."""


class MessageHandler(Protocol):
    """The router as the channels see it."""

    async def handle(self, message: Inbound) -> HandleResult:
        """Persist the message, dedupe, ask Rasa, persist and return the replies."""
        ...

    def register(self, channel: Channel) -> None:
        """Make a channel reachable for later deliveries (retries, notifications, agents)."""
        ...

    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]:
        """The conversation's last `limit` stored messages, oldest first."""
        ...
