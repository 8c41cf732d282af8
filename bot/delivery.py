"""Outbound delivery: what the router sends through a conversation's channel itself (push mode,
retries, notifications, the handoff desk's texts, agents' messages), stored first.

Replies to a channel that keeps no history of its own (Telegram) are tracked by the outbox
(bot/outbox.py) until the channel took them; the others are sent at once, best effort (the
transcript keeps them). Every call for a conversation is made with its lock
(bot/ordering.py), except `deliver` and `send_as_agent`, which take it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.channels.base import Channel
from bot.messages import HandleResult, Reply
from bot.outbox import TRACKED, Outbox
from bot.router_core import RouterCore
from bot.transcript import split_conversation_id
from store.roles import SEES_STATION
from store.statuses import HandoffState, MessageSender, MessageStatus, NotificationStatus

if TYPE_CHECKING:
    from bot.handoff.desk import AgentRef

log = logging.getLogger(__name__)


class NotYourChat(PermissionError):
    """An agent tried to write in a conversation that is not assigned to them."""


class Delivery:
    def __init__(self, core: RouterCore, channels: Mapping[str, Channel], outbox: Outbox) -> None:
        self._core = core
        self._transcript = core.transcript
        self._channels = channels
        self._outbox = outbox

    async def push(self, conversation_id: str, replies: Sequence[Reply]) -> bool:
        """Send replies through the conversation's channel; False when it has none registered
        (e.g. the JSON API: the replies wait in the transcript) or the channel failed."""
        if not replies:
            return True
        channel_name, chat_id = split_conversation_id(conversation_id)
        channel = self._channels.get(channel_name)
        if channel is None:
            return False
        try:
            await channel.send(chat_id, replies)
        except Exception:
            log.exception("%s: delivery through %s failed", conversation_id, channel_name)
            return False
        return True

    async def pushed(self, result: HandleResult, out: str) -> HandleResult:
        """Push mode: the result's replies sent (tracked ones through the outbox, with any a
        crash left behind). Call with the conversation's lock."""
        await self.send_out(result.conversation_id, result.replies, out)
        return replace(result, delivered=True)

    async def send_out(self, conversation_id: str, replies: Sequence[Reply], out: str) -> bool:
        """Replies the router delivers itself (push mode, retries): tracked ones through the
        outbox, the others at once (best effort). Call with the conversation's lock."""
        if out == TRACKED:
            return await self._outbox.flush(conversation_id)
        return await self.push(conversation_id, replies)

    async def deliver(
        self, conversation_id: str, replies: Sequence[Reply], *, sender: str = MessageSender.SYSTEM
    ) -> str:
        """Store and send messages the bot starts (notifications): 'sent', or 'stored' when
        they could only be kept in the transcript."""
        async with self._core.ordering.lock(conversation_id):
            return await self._deliver_locked(conversation_id, replies, sender=sender)

    async def _deliver_locked(
        self,
        conversation_id: str,
        replies: Sequence[Reply],
        *,
        sender: str,
        agent: str | None = None,
        handoff_id: int | None = None,
    ) -> str:
        ids, _ = await self._transcript.deliver(conversation_id, replies, sender=sender)
        self._core.events.outgoing(
            conversation_id, replies, sender, agent=agent, handoff_id=handoff_id
        )
        if await self.push(conversation_id, replies):
            return NotificationStatus.SENT
        if self._channels.get(split_conversation_id(conversation_id)[0]) is not None:
            await self._transcript.set_status(ids, MessageStatus.FAILED)
        return NotificationStatus.STORED

    async def announce(
        self,
        conversation_id: str,
        replies: Sequence[Reply],
        on_sent: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """A notice the gateway broadcasts (outage notices, bot/outages/): sent through the
        conversation's channel first, under its lock, then stored: 'sent', or 'stored' when the
        conversation has no push channel (the JSON API: the transcript keeps it). `on_sent` is
        awaited as soon as the channel took it, before anything else (the caller records it
        while a crash can least come in between). The channel's refusal is raised to the
        caller, who decides (`SendLater`: try again later; `RecipientGone`: stop sending
        there), and nothing is stored then."""
        name, chat_id = split_conversation_id(conversation_id)
        channel = self._channels.get(name)
        status = NotificationStatus.SENT if channel is not None else NotificationStatus.STORED
        async with self._core.ordering.lock(conversation_id):
            if channel is not None:
                await channel.send(chat_id, replies)
            if on_sent is not None:
                await on_sent(status)
            await self._transcript.deliver(conversation_id, replies, sender=MessageSender.SYSTEM)
            self._core.events.outgoing(conversation_id, replies, MessageSender.SYSTEM)
        return status

    async def send_as_agent(self, conversation_id: str, text: str, agent: AgentRef) -> str:
        """An agent's message: stored (sender 'agent'), sent through the conversation's
        channel and published. The conversation's open handoff must be assigned to the agent
        (a supervisor may write in any open one), else `NotYourChat`. 'sent' or 'stored'."""
        if self._core.handoff is None:
            raise NotYourChat("human handoff is not enabled")
        async with self._core.ordering.lock(conversation_id):
            view = await self._core.handoff.open_for(conversation_id)
            if view is None or view.state != HandoffState.ASSIGNED:
                raise NotYourChat(f"{conversation_id} has no chat assigned to an agent")
            if view.agent_id != agent.id and agent.role not in SEES_STATION:
                raise NotYourChat(f"{conversation_id} is assigned to someone else")
            return await self._deliver_locked(
                conversation_id,
                (Reply(text=text),),
                sender=MessageSender.AGENT,
                agent=agent.username,
                handoff_id=view.id,
            )
