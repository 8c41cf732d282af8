"""The router: every customer message from every channel goes through `Router.handle`.

Order of work for one message (bot/README.md has the diagram):

1. store it, then `on_stored` (only now may the channel confirm it to its source); under the
   conversation's lock (one conversation's messages are handled one at a time, in order), or
   before it when the conversation is busy (so that storing never waits for a turn). A
   redelivery (same external id) stops here, the unique constraint decides, unless it was
   never answered and no turn has it (its gateway died): then it is answered now;
2. empty, non-text or over-long messages get the gateway's own polite reply (conf/gateway.yml);
3. earlier pending messages of the conversation go to Rasa first, their replies through the
   channel; then this one, with {channel, language, user_id} as metadata;
4. replies are stored and returned, with the intent NLU found (Rasa's answer on the gateway
   channel says it; otherwise it is read from the tracker in the background); with `push` the
   router sends them itself, each claimed and marked in the database (a crash in between
   leaves them to be sent after the restart);
5. when Rasa or the action server is down or too slow, the message is kept 'pending', the
   customer gets the '系统繁忙' notice at once, and the retry worker answers later through the
   channel the conversation uses. A turn cancelled or failing half-way leaves it pending too;
   what a killed process left ('received' messages, claimed replies) is taken up at the next
   start (`recover`) and, for another process's, by the retry worker's sweep.

Human handoff (bot/handoff/, marked "HANDOFF HOOK" below): in step 1's transaction the handoff
desk's gate sees the message; while the conversation has an open handoff (queued/assigned) the
bot never answers and Rasa is not called: the message waits in the transcript for the agent.
After a turn (and when Rasa fails) the desk's triggers may queue a handoff. Every stored
message is published on the event hub (bot/events.py) for the agent console.

The router composes its parts; each is one seam of the flow above:

| module | what |
|---|---|
| `ordering.py` | per-conversation locks (turns in order), messages held, what runs, shutdown |
| `intake.py` | steps 1-2: store, dedupe, triage, the gate's decision, a resend answered |
| `turn.py` | steps 3-5 for one message: Rasa, the replies stored, triggers, '系统繁忙' |
| `pending.py` | pending messages drained in order; `recover` and `sweep` after a crash |
| `delivery.py` | what the router sends itself: push mode, notifications, agents' messages |
| `router_core.py` | what the parts share (transcript, backends, ordering, events, desk, replies) |
| `inbox_capture.py` | messages NLU was unsure about to the NLU inbox, in the background |
| `message_events.py` | every stored message published for the console |
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.backends import Backends
from bot.channels.base import Channel
from bot.delivery import Delivery, NotYourChat
from bot.events import EventHub
from bot.inbox_capture import InboxCapture, inbox_landing
from bot.intake import Early, Intake
from bot.message_events import MessageEvents
from bot.messages import HandleResult, Inbound, Reply, TranscriptEntry
from bot.ordering import Ordering
from bot.outbox import Outbox
from bot.pending import Pending
from bot.router_core import OwnReplies, RouterCore
from bot.texts import GatewayTexts
from bot.transcript import Received, Transcript
from bot.turn import Turn

if TYPE_CHECKING:
    from bot.handoff.desk import AgentRef, HandoffDesk
    from bot.replicas import Replicas
    from nlu.settings import InboxSettings

__all__ = ["NotYourChat", "Router", "RouterClosed", "inbox_landing"]

log = logging.getLogger(__name__)


class RouterClosed(RuntimeError):
    """The gateway is shutting down and could not even keep the message for its next start
    (the database is already closed): the channel should have it delivered again later (a
    webhook answers 503)."""


class Router:
    """Implements `bot.channels.base.MessageHandler`."""

    def __init__(
        self,
        *,
        transcript: Transcript,
        backends: Backends,
        texts: GatewayTexts,
        max_text_chars: int,
        hotline: str,
        events: EventHub | None = None,
        handoff: HandoffDesk | None = None,
        inbox: InboxSettings | None = None,
        replicas: Replicas | None = None,
    ) -> None:
        self._transcript = transcript
        self._replicas = replicas
        """Several gateway replicas (GATEWAY_SHARED): their conversation locks (Redis)."""
        self.events = events if events is not None else EventHub()
        """Where every stored message is published (the agent console subscribes)."""
        self.handoff = handoff
        """The human handoff desk; None: no gate (the bot answers everything)."""
        self._backends = backends
        self._rasa = backends.rasa
        self._channels: dict[str, Channel] = {}
        self._accepting = True
        self.pending_added = asyncio.Event()
        """Set whenever a message is kept pending (or replies wait for their channel): wakes
        the retry worker."""
        self._ordering = Ordering(replicas.locks if replicas is not None else None)
        core = RouterCore(
            transcript=transcript,
            backends=backends,
            replies=OwnReplies(texts, max_text_chars, hotline),
            ordering=self._ordering,
            events=MessageEvents(self.events),
            pending_added=self.pending_added,
            handoff=handoff,
        )
        self._replies = core.replies
        self._outbox = Outbox(transcript, self._channels, self.pending_added)
        self._delivery = Delivery(core, self._channels, self._outbox)
        capture = InboxCapture(transcript.factory, inbox)
        self._turn = Turn(core, capture, self._drain_before)
        self._pending = Pending(
            core,
            outbox=self._outbox,
            delivery=self._delivery,
            turn=self._turn,
            accepting=lambda: self._accepting,
        )
        self._intake = Intake(core, self._turn)
        if handoff is not None:
            handoff.bind(self._deliver_for_desk)

    # --- MessageHandler -------------------------------------------------------------------

    def register(self, channel: Channel) -> None:
        """Make a channel reachable for later deliveries (retries, notifications)."""
        if channel.name in self._channels and self._channels[channel.name] is not channel:
            log.warning("channel %s registered again: the new adapter replaces the old", channel)
        self._channels[channel.name] = channel

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]:
        """The last messages as a replay shows them: a reply that showed account data under a
        verification that is over says so instead (conf/gateway.yml account_data_hidden)."""
        entries = await self._transcript.history(conversation_id, limit)
        if not any(entry.withheld for entry in entries):
            return entries
        language = await self._transcript.language_of(conversation_id)
        notice = self._replies.texts.reply("account_data_hidden", language)
        return [replace(e, text=notice) if e.withheld else e for e in entries]

    async def handle(
        self,
        message: Inbound,
        *,
        on_stored: Callable[[], None] | None = None,
        push: bool = False,
    ) -> HandleResult:
        """Persist, dedupe, ask Rasa, persist and return the replies (see the module doc).

        `on_stored` is called once the message is committed (or found stored before), before
        Rasa is asked: only then may a channel confirm it to its source (Telegram's next
        offset, a webhook's 200). `push`: the replies go out through the conversation's
        channel here, in order, each marked once sent (a crash in between leaves them to be
        sent after the restart); the result says `delivered`.
        """
        stored_now = on_stored or _nothing
        cid = message.conversation_id
        out = self._outbox.status(cid, push)
        ordering = self._ordering
        if not self._accepting:
            try:
                result = await self._intake.keep_for_next_start(message, out)
            except Exception as exc:
                raise RouterClosed("the gateway is shutting down") from exc
            stored_now()
            if not push:
                return result
            async with ordering.lock(cid):
                return await self._delivery.pushed(result, out)
        task = ordering.enter(cid)
        early: Received[Any] | Early | None = Early.NOT_YET
        try:
            if ordering.busy(cid):
                early = await self._intake.store_early(message)
                stored_now()
            order = early.stored.id if isinstance(early, Received) else 0
            async with ordering.lock(cid, order):
                result = await self._intake.handle_locked(message, early, stored_now, out)
                return await self._delivery.pushed(result, out) if push else result
        except asyncio.CancelledError:
            if isinstance(early, Received):  # cancelled while it waited for its turn
                await self._turn.keep_pending(early.stored)
            raise
        finally:
            if isinstance(early, Received):
                ordering.live.discard(early.stored.id)
            ordering.leave(cid, task)

    async def show_history(
        self,
        conversation_id: str,
        limit: int,
        show: Callable[[list[TranscriptEntry]], Awaitable[None]],
    ) -> None:
        """The conversation's history, read and shown (`show`) while none of its replies is
        being stored or pushed: a reply the retry worker sends (e.g. to a tab that reconnected
        after a restart) is then either in that history or pushed after it, never both."""
        async with self._ordering.lock(conversation_id):
            if self._replicas is not None:  # what other replicas pushed before is out first
                await self._replicas.bus.barrier()
            await show(await self.history(conversation_id, limit))

    # --- pending messages -----------------------------------------------------------------

    async def _drain_before(self, conversation_id: str, before: int | None) -> bool:
        return await self._pending.drain(conversation_id, before)

    async def drain_all(self) -> bool:
        """Answer every conversation's pending messages (the retry worker's pass)."""
        return await self._pending.drain_all()

    async def count_pending(self) -> int:
        return await self._transcript.count_pending()

    async def database_ok(self) -> bool:
        return await self._transcript.ping()

    async def replies_for(self, conversation_id: str, external_id: str) -> list[Reply]:
        """What was answered to a message known by its external id (idempotent API retries)."""
        return await self._transcript.replies_for(conversation_id, external_id)

    # --- messages the bot starts ----------------------------------------------------------

    async def push(self, conversation_id: str, replies: Sequence[Reply]) -> bool:
        """Send replies through the conversation's channel; False when it has none registered
        (e.g. the JSON API: the replies wait in the transcript) or the channel failed."""
        return await self._delivery.push(conversation_id, replies)

    async def deliver(
        self, conversation_id: str, replies: Sequence[Reply], *, sender: str = "system"
    ) -> str:
        """Store and send messages the bot starts (notifications): 'sent', or 'stored' when
        they could only be kept in the transcript."""
        return await self._delivery.deliver(conversation_id, replies, sender=sender)

    async def announce(
        self,
        conversation_id: str,
        replies: Sequence[Reply],
        on_sent: Callable[[str], Awaitable[None]] | None = None,
    ) -> str:
        """A broadcast notice: sent, `on_sent`, then stored; the channel's refusal raised
        (`Delivery.announce`). 'sent' or 'stored'."""
        return await self._delivery.announce(conversation_id, replies, on_sent)

    async def _deliver_for_desk(
        self, conversation_id: str, replies: Sequence[Reply], sender: str
    ) -> str:
        return await self.deliver(conversation_id, replies, sender=sender)

    async def send_as_agent(self, conversation_id: str, text: str, agent: AgentRef) -> str:
        """An agent's message, sent at once (`Delivery.send_as_agent`); `NotYourChat` when the
        conversation's open handoff is not theirs. 'sent' or 'stored'."""
        return await self._delivery.send_as_agent(conversation_id, text, agent)

    # --- start and stop -------------------------------------------------------------------

    async def recover(self, stale_after: timedelta | None = None) -> int:
        """At start-up, before any channel: what an earlier run left half-way
        (`Pending.recover`; with other replicas, only what is older than `stale_after`). How
        many messages were recovered."""
        return await self._pending.recover(stale_after)

    async def sweep(self, stale_after: timedelta) -> bool:
        """The retry worker's look for work nobody does (`Pending.sweep`)."""
        return await self._pending.sweep(stale_after)

    async def flush_all(self) -> bool:
        """Send every conversation's replies that were stored but not sent; False when some
        must wait longer."""
        return await self._pending.flush_all()

    @property
    def accepting(self) -> bool:
        return self._accepting

    async def close(self, grace: float) -> None:
        """Stop taking messages, let the ones being handled finish (at most `grace` seconds;
        the rest are cancelled and stay pending for the next start), then stop the
        background work."""
        self._accepting = False
        await self._ordering.close(grace)


def _nothing() -> None:
    """No `on_stored` callback."""
