"""What the router's parts (bot/router.py lists them) share, built once by the router: the
transcript, the backends, the ordering, the event publisher, the retry worker's wake-up, the
handoff desk and the gateway's own replies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.backends import Backends
from bot.message_events import MessageEvents
from bot.messages import Reply
from bot.ordering import Ordering
from bot.texts import GatewayTexts
from bot.transcript import Transcript

if TYPE_CHECKING:
    from bot.handoff.desk import HandoffDesk


class OwnReplies:
    """The gateway's own replies (conf/gateway.yml), with its limits and hotline filled in."""

    def __init__(self, texts: GatewayTexts, max_chars: int, hotline: str) -> None:
        self.texts = texts
        self.max_chars = max_chars
        self._hotline = hotline

    def reply(self, key: str, language: str | None) -> Reply:
        values = {"max_chars": self.max_chars, "hotline": self._hotline}
        return Reply(text=self.texts.reply(key, language, **values))


@dataclass(frozen=True)
class RouterCore:
    transcript: Transcript
    backends: Backends
    replies: OwnReplies
    ordering: Ordering
    events: MessageEvents
    pending_added: asyncio.Event
    """Set whenever a message is kept pending (or replies wait for their channel): wakes the
    retry worker."""
    handoff: HandoffDesk | None
    """The human handoff desk; None: no gate (the bot answers everything)."""
