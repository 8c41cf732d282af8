"""The outbound side every channel adapter implements (inbound goes through `Router.handle`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from bot.messages import HandleResult, Inbound, Reply, TranscriptEntry


class RecipientGone(Exception):
    """The channel will never deliver to this chat again (the customer blocked the bot or
    deleted the chat): whoever sends by itself stops sending there (outage subscriptions end)."""


class SendLater(ConnectionError):
    """The channel asks to wait `retry_after` seconds before sending again (a rate limit):
    nothing was sent. A ConnectionError, so the router's tracked replies wait for the retry
    worker instead of being given up."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotNow(Exception):
    """This one recipient cannot be sent to now, by a condition of their own, but may be later
    (WeChat: the follower's count of customer-service messages is used up, 45047, or the
    48-hour window closed with no template message to send instead): nothing was sent, and
    the channel's other recipients are not concerned (unlike `SendLater`, which holds the
    whole channel). Whoever sends by itself holds that recipient's message and tries it
    again later (the outage-notice worker: bot/outages/worker.py); a reply the router sends
    is given up (failed, the channel noted why in the transcript) unless the exception is
    also a `ConnectionError`.

    `reason`: why, for staff (Chinese, kept with a notice given up). `retry_after`: seconds
    after which a new try may succeed; None when only the customer can lift it (by writing
    again: the channel then wakes their held notices, `store.outages.queue.wake_held`)."""

    def __init__(self, message: str, *, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class Channel(ABC):
    """An adapter the router can push replies through, also later (retries, notifications).

    Each adapter registers itself with `Router.register(channel)` at start-up; `name` is the
    prefix of its conversation ids (`<name>:<chat_id>`).
    """

    name: str
    shows_history: bool = False
    """Whether the customer sees the stored transcript again when they come back (the web
    chat's history): replies a crash kept from being sent are seen there, so the router never
    sends them again (that would show them twice). Channels without one (Telegram) get them
    sent after the restart."""

    @abstractmethod
    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies to a chat. Raises on delivery failure (the router logs and retries):
        `SendLater` when the channel's rate limit asks to wait, `NotNow` when this chat cannot
        be reached now but may be later, `RecipientGone` when it can never be reached again."""

    async def typing(self, chat_id: str) -> None:  # noqa: B027 - optional for channels without it
        """Show that the bot is working (Telegram's chat action, the web chat's dots)."""


class MessageHandler(Protocol):
    """The router as the channels see it."""

    async def handle(
        self,
        message: Inbound,
        *,
        on_stored: Callable[[], None] | None = None,
        push: bool = False,
    ) -> HandleResult:
        """Persist the message, dedupe, ask Rasa, persist and return the replies.

        `on_stored` is called once the message is committed (or known from before): a channel
        confirms a message to its source only then. `push`: the router sends the replies
        through the channel itself, tracked until sent (`HandleResult.delivered`)."""
        ...

    def register(self, channel: Channel) -> None:
        """Make a channel reachable for later deliveries (retries, notifications, agents)."""
        ...

    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]:
        """The conversation's last `limit` stored messages, oldest first."""
        ...

    async def show_history(
        self,
        conversation_id: str,
        limit: int,
        show: Callable[[list[TranscriptEntry]], Awaitable[None]],
    ) -> None:
        """`history`, handed to `show` while no reply of the conversation is stored or pushed
        meanwhile: each reply is then in that history or pushed after it, never both."""
        ...
