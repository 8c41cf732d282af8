"""Every stored message published on the event hub (bot/events.py), for the agent console:
`message_in` for the customer's, `message_out` for each reply (bot, system or agent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.events import EventHub
from bot.messages import Reply

if TYPE_CHECKING:
    from bot.transcript import StoredInbound


class MessageEvents:
    def __init__(self, hub: EventHub) -> None:
        self.hub = hub

    def incoming(self, stored: StoredInbound, handoff_id: int | None) -> None:
        self.hub.publish(
            "message_in",
            {
                "message_id": stored.id,
                "text": stored.text,
                "sender": "customer",
                "channel": stored.channel,
                "language": stored.language,
                "attachments": list(stored.attachments),
                "handoff_id": handoff_id,
            },
            conversation_id=stored.conversation_id,
            at=stored.created_at,
        )

    def outgoing(
        self,
        conversation_id: str,
        replies: Sequence[Reply],
        sender: str,
        *,
        agent: str | None = None,
        handoff_id: int | None = None,
    ) -> None:
        for reply in replies:
            self.hub.publish(
                "message_out",
                {**reply.as_json(), "sender": sender, "agent": agent, "handoff_id": handoff_id},
                conversation_id=conversation_id,
            )
