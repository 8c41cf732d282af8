"""The router: every customer message from every channel goes through `Router.handle`.

Order of work for one message (bot/README.md has the diagram):

1. under the conversation's lock (one conversation's messages are handled one at a time, in
   order), store it; a redelivery (same external id) stops here, the unique constraint decides;
2. empty, non-text or over-long messages get the gateway's own polite reply (conf/gateway.yml);
3. earlier pending messages of the conversation go to Rasa first, their replies through the
   channel; then this one, with {channel, language, user_id} as metadata;
4. replies are stored and returned, with the intent NLU found (Rasa's answer on the gateway
   channel says it; otherwise it is read from the tracker in the background);
5. when Rasa or the action server is down or too slow, the message is kept 'pending', the
   customer gets the '系统繁忙' notice at once, and the retry worker answers later through the
   channel the conversation uses.

Human handoff (bot/handoff/, marked "HANDOFF HOOK" below): in step 1's transaction the handoff
desk's gate sees the message; while the conversation has an open handoff (queued/assigned) the
bot never answers and Rasa is not called: the message waits in the transcript for the agent.
After a turn (and when Rasa fails) the desk's triggers may queue a handoff. Every stored
message is published on the event hub (bot/events.py) for the agent console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from bot.backends import Backends
from bot.channels.base import Channel
from bot.events import EventHub
from bot.inbound import Triage, choose_language, location_of, triage
from bot.messages import Attachment, HandleResult, Inbound, Reply, TranscriptEntry
from bot.rasa_client import (
    MESSAGE_KEY,
    RasaRejected,
    RasaUnavailable,
    TurnTracker,
    intent_from_latest,
)
from bot.texts import GatewayTexts
from bot.transcript import Received, StoredInbound, Transcript, split_conversation_id
from store.services import nlu_inbox

if TYPE_CHECKING:
    from bot.handoff.desk import AgentRef, HandoffDesk
    from bot.rasa_client import IntentGuess
    from nlu.settings import InboxSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def inbox_landing(
    guess: IntentGuess, inbox: InboxSettings
) -> tuple[str, str | None, float | None] | None:
    """Whether a message goes to the NLU inbox: (reason, predicted intent, confidence), or None.

    A fallback intent (conf/nlu.yml inbox.fallback_intents) lands as 'fallback' with the best
    other intent of the ranking as the prediction (the fallback's own confidence is only its
    threshold); a best intent below inbox.confidence_below lands as 'low_confidence'.
    """
    if guess.name is None:
        return None
    if guess.name in inbox.fallback_intents:
        intent, confidence = guess.best_except(inbox.fallback_intents)
        if intent is None:
            return "fallback", guess.name, guess.confidence
        return "fallback", intent, confidence
    if guess.confidence is not None and guess.confidence < inbox.confidence_below:
        return "low_confidence", guess.name, guess.confidence
    return None


class RouterClosed(RuntimeError):
    """The gateway is shutting down and could not even keep the message for its next start
    (the database is already closed): the channel should have it delivered again later (a
    webhook answers 503)."""


class NotYourChat(PermissionError):
    """An agent tried to write in a conversation that is not assigned to them."""


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
    ) -> None:
        self._transcript = transcript
        self.events = events if events is not None else EventHub()
        """Where every stored message is published (the agent console subscribes)."""
        self.handoff = handoff
        """The human handoff desk; None: no gate (the bot answers everything)."""
        if handoff is not None:
            handoff.bind(self._deliver_for_desk)
        self._backends = backends
        self._inbox = inbox
        """conf/nlu.yml's inbox settings: unsure or fallback messages go to the NLU inbox;
        None: nothing is captured."""
        self._inbox_lock = asyncio.Lock()
        self._rasa = backends.rasa
        self._texts = texts
        self._max_chars = max_text_chars
        self._hotline = hotline
        self._channels: dict[str, Channel] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._accepting = True
        self._inflight: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._background: set[asyncio.Task[None]] = set()
        self.pending_added = asyncio.Event()
        """Set whenever a message is kept pending: wakes the retry worker."""

    # --- MessageHandler -------------------------------------------------------------------

    def register(self, channel: Channel) -> None:
        """Make a channel reachable for later deliveries (retries, notifications)."""
        if channel.name in self._channels and self._channels[channel.name] is not channel:
            log.warning("channel %s registered again: the new adapter replaces the old", channel)
        self._channels[channel.name] = channel

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]:
        return await self._transcript.history(conversation_id, limit)

    async def handle(self, message: Inbound) -> HandleResult:
        """Persist, dedupe, ask Rasa, persist and return the replies (see the module doc)."""
        if not self._accepting:
            return await self._keep_for_next_start(message)
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        self._idle.clear()
        try:
            async with self._lock(message.conversation_id):
                return await self._handle_locked(message)
        finally:
            if task is not None:
                self._inflight.discard(task)
            if not self._inflight:
                self._idle.set()

    async def _keep_for_next_start(self, message: Inbound) -> HandleResult:
        """Shutting down: the message is stored pending (the next start answers it, as after
        an outage of Rasa) and the customer told the system is busy, so a channel that has
        already acknowledged it (Telegram polling) loses nothing. RouterClosed only when even
        that fails (the database is gone): the channel then has it delivered again."""
        verdict = triage(message.text, message.attachments, self._max_chars)
        kept = verdict.verdict == "rasa"
        try:
            received: Received[None] | None = await self._receive(
                message, verdict, "pending" if kept else "processed"
            )
            if received is None:
                return HandleResult(message.conversation_id, (), duplicate=True)
            stored = received.stored
            notice = (self._reply("busy" if kept else verdict.verdict, stored.language),)
            await self._transcript.answer(
                stored.id,
                stored.conversation_id,
                notice,
                inbound_status="pending" if kept else "processed",
                sender="system",
            )
        except Exception as exc:
            raise RouterClosed("the gateway is shutting down") from exc
        log.info("%s: shutting down: message kept for the next start", stored.conversation_id)
        return HandleResult(stored.conversation_id, notice, degraded=kept)

    # --- the pieces -----------------------------------------------------------------------

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    def _reply(self, key: str, language: str | None) -> Reply:
        values = {"max_chars": self._max_chars, "hotline": self._hotline}
        return Reply(text=self._texts.reply(key, language, **values))

    async def _receive(
        self,
        message: Inbound,
        verdict: Triage,
        status: str,
        then: Callable[[Session, StoredInbound], T] | None = None,
    ) -> Received[T] | None:
        """Store the customer message as triaged (None: a redelivery); its language follows
        the conversation's; `then` runs in the same transaction."""
        return await self._transcript.receive(
            message,
            text=verdict.text,
            status=status,
            language=lambda previous: choose_language(message.language, verdict.text, previous),
            then=then,
        )

    async def _handle_locked(self, message: Inbound) -> HandleResult:
        cid = message.conversation_id
        verdict = triage(message.text, message.attachments, self._max_chars)
        desk = self.handoff
        # HANDOFF HOOK (gate): decided in the transaction that stores the message
        received = await self._receive(
            message,
            verdict,
            "received" if verdict.verdict == "rasa" else "processed",
            desk.gate_in if desk is not None else None,
        )
        if received is None:
            log.info("%s: message %s was already received", cid, message.external_id)
            return HandleResult(cid, (), duplicate=True)
        stored = received.stored
        # HANDOFF HOOK (gate): during an open handoff the bot never answers; Rasa is not called
        handoff_id: int | None = None
        if desk is not None and received.then is not None:
            gate = desk.gate_done(received.then)
            handoff_id = gate.handoff.id if gate.handoff is not None else None
            self._publish_in(stored, handoff_id)
            if gate.handled:
                await self._transcript.answer(
                    stored.id, cid, gate.replies, inbound_status="processed", sender="system"
                )
                self._publish_out(cid, gate.replies, "system", handoff_id=handoff_id)
                return HandleResult(cid, gate.replies)
        else:
            self._publish_in(stored, None)
        replies: tuple[Reply, ...]
        if verdict.verdict != "rasa":
            replies = (self._reply(verdict.verdict, stored.language),)
            await self._transcript.answer(
                stored.id, cid, replies, inbound_status="processed", sender="system"
            )
            self._publish_out(cid, replies, "system")
            return HandleResult(cid, replies)
        try:
            if self._backends.down or (received.earlier_pending and not await self._drain(cid)):
                return await self._defer(stored)
            replies = await self._turn(stored, retry=False)
        except RasaUnavailable as exc:
            log.warning("%s: Rasa unavailable (%s): message kept pending", cid, exc)
            self._backends.mark_down()
            kind = "action_failure" if "action server" in str(exc) else "rasa_timeout"
            return await self._defer(stored, kind)
        except RasaRejected as exc:
            log.error("%s: Rasa refused the message (%s)", cid, exc)
            return HandleResult(cid, await self._fail(stored))
        except asyncio.CancelledError:
            await self._keep_pending(stored)
            raise
        return HandleResult(cid, replies)

    def _rasa_text(self, stored: StoredInbound) -> str:
        """The text Rasa gets: the customer's, or for a bare shared location its coordinates
        in words (conf/gateway.yml replies.location)."""
        location = _location(stored)
        if stored.text or location is None:
            return stored.text
        lat, lon = (f"{v:.5f}" for v in location)
        return self._texts.reply("location", stored.language, latitude=lat, longitude=lon)

    def _metadata(self, stored: StoredInbound) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "channel": stored.channel,
            "language": stored.language,
            "user_id": stored.user_id,
            MESSAGE_KEY: stored.key,
        }
        location = _location(stored)
        if location is not None:
            metadata["location"] = {"latitude": location[0], "longitude": location[1]}
        return metadata

    async def _turn(self, stored: StoredInbound, *, retry: bool) -> tuple[Reply, ...]:
        """Ask Rasa about one stored message, store its replies; RasaUnavailable when it (or
        the action server behind it) did not answer."""
        replies: list[Reply] | None = None
        latest: Mapping[str, Any] | None = None
        if retry:  # Rasa may have finished the turn after we gave up waiting: never ask twice
            with contextlib.suppress(RasaUnavailable):
                replies = await self._rasa.answered(stored.conversation_id, stored.key)
        if replies is None:
            answer = await self._rasa.send(
                stored.conversation_id,
                self._rasa_text(stored),
                self._metadata(stored),
                input_channel=stored.channel,
            )
            replies, latest = answer.replies, answer.latest
            if not replies and not await self._backends.actions_up(fresh=True):
                # Rasa swallows action server errors and answers nothing
                raise RasaUnavailable("the action server is down")
        result = tuple(replies)
        # What NLU made of the message: the handoff triggers and the recorded intent both use
        # it. Rasa's answer says it (the gateway channel): it is stored with the replies, in
        # one transaction with the handoff desk's look for a waiting request. Otherwise the
        # tracker's latest message is read once, while the replies are stored, and the intent
        # recorded in the background.
        tracker = TurnTracker(self._rasa, stored.conversation_id, latest)
        guess = intent_from_latest(latest, stored.key)
        desk = self.handoff
        stored_replies = self._transcript.answer_turn(
            stored,
            result,
            intent=(guess.name, guess.confidence) if guess is not None else None,
            then=lambda session: (
                desk.waiting_request(session, stored.conversation_id) if desk else None
            ),
        )
        if guess is not None:
            waiting = await stored_replies
            landing = self._inbox_landing(guess)
            if landing is not None:  # rare: no task for the usual turn
                self._spawn(self._to_inbox(stored, landing))
        else:
            waiting, _ = await asyncio.gather(stored_replies, self._prefetch_latest(tracker))
            self._spawn(self._record_intent(stored, tracker))
        self._publish_out(stored.conversation_id, result, "bot")
        # HANDOFF HOOK (triggers): the turn may have queued the conversation for a person
        if desk is not None:
            extra = await desk.after_turn(stored, tracker, waiting)
            if extra:
                await self._transcript.deliver(stored.conversation_id, extra, sender="system")
                self._publish_out(stored.conversation_id, extra, "system")
                result += extra
        return result

    async def _defer(self, stored: StoredInbound, kind: str = "rasa_timeout") -> HandleResult:
        # HANDOFF HOOK (failure trigger): a person takes the message instead of the retry worker
        if self.handoff is not None:
            queued = await self.handoff.on_failure(stored, kind)
            if queued:
                cid = stored.conversation_id
                await self._transcript.answer(
                    stored.id, cid, queued, inbound_status="processed", sender="system"
                )
                self._publish_out(stored.conversation_id, queued, "system")
                return HandleResult(stored.conversation_id, queued)
        notice = (self._reply("busy", stored.language),)
        await self._transcript.answer(
            stored.id, stored.conversation_id, notice, inbound_status="pending", sender="system"
        )
        self.pending_added.set()
        return HandleResult(stored.conversation_id, notice, degraded=True)

    async def _keep_pending(self, stored: StoredInbound) -> None:
        """A turn was cancelled (shutdown): leave the message for the retry worker."""
        with contextlib.suppress(Exception):
            await self._transcript.set_status([stored.id], "pending", expected="received")

    async def _fail(self, stored: StoredInbound) -> tuple[Reply, ...]:
        error: tuple[Reply, ...] = (self._reply("error", stored.language),)
        # HANDOFF HOOK (failure trigger): Rasa refused the message: a person may take over
        if self.handoff is not None:
            error += await self.handoff.on_failure(stored, "action_failure")
        await self._transcript.answer(
            stored.id, stored.conversation_id, error, inbound_status="failed", sender="system"
        )
        self._publish_out(stored.conversation_id, error, "system")
        return error

    @staticmethod
    async def _prefetch_latest(tracker: TurnTracker) -> None:
        """Read the tracker's latest message while the replies are stored: its readers (the
        handoff triggers, the recorded intent) then find it read, or its failure, which each
        of them handles."""
        with contextlib.suppress(RasaUnavailable):
            await tracker.latest()

    async def _record_intent(self, stored: StoredInbound, tracker: TurnTracker) -> None:
        try:
            guess = await tracker.intent_of(stored.key)
        except RasaUnavailable as exc:
            log.info("%s: intent not recorded (%s)", stored.conversation_id, exc)
            return
        if guess is not None:
            await self._transcript.set_intent(stored.id, guess.name, guess.confidence)
            landing = self._inbox_landing(guess)
            if landing is not None:
                await self._to_inbox(stored, landing)

    def _inbox_landing(self, guess: IntentGuess) -> tuple[str, str | None, float | None] | None:
        """Whether the message goes to the NLU inbox (see `inbox_landing`); None without one."""
        return inbox_landing(guess, self._inbox) if self._inbox is not None else None

    async def _to_inbox(
        self, stored: StoredInbound, landing: tuple[str, str | None, float | None]
    ) -> None:
        """NLU inbox: a message NLU was unsure about or fell back on (`landing`: reason,
        predicted intent, confidence), in a background task: never on the reply's path."""
        inbox = self._inbox
        assert inbox is not None  # a landing needs the inbox settings
        reason, intent, confidence = landing

        def work(session: Session) -> int | None:
            item = nlu_inbox.add_hit(
                session,
                message_id=stored.id,
                conversation_id=stored.conversation_id,
                text=stored.text,
                reason=reason,
                predicted_intent=intent,
                confidence=confidence,
                settings=inbox,
            )
            return item.id if item is not None else None

        async with self._inbox_lock:  # near-duplicates captured at once would miss each other
            item_id = await self._transcript.run(work)
        if item_id is not None:
            log.info(
                "%s: message %s in the NLU inbox (item %s, %s)",
                stored.conversation_id, stored.id, item_id, reason,
            )  # fmt: skip

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    # --- pending messages -----------------------------------------------------------------

    async def _drain(self, conversation_id: str) -> bool:
        """Answer the conversation's pending messages in order, through its channel. False
        (the rest stays pending) as soon as Rasa fails. Call with the conversation's lock."""
        pending = await self._transcript.pending_inbound(conversation_id)
        # HANDOFF HOOK (gate): a person has the chat now: they read these, not Rasa
        if pending and self.handoff is not None and await self.handoff.is_open(conversation_id):
            await self._transcript.set_status([p.id for p in pending], "processed")
            return True
        for stored in pending:
            if not await self._transcript.set_status([stored.id], "received", expected="pending"):
                continue  # another worker or process has it
            try:
                replies = await self._turn(stored, retry=True)
            except RasaUnavailable as exc:
                log.info("%s: still no answer from Rasa (%s)", conversation_id, exc)
                await self._transcript.set_status([stored.id], "pending", expected="received")
                self._backends.mark_down()
                return False
            except RasaRejected:
                replies = await self._fail(stored)
            except asyncio.CancelledError:
                await self._keep_pending(stored)
                raise
            await self.push(stored.conversation_id, replies)
        return True

    async def drain_all(self) -> bool:
        """Answer every conversation's pending messages (the retry worker's pass)."""
        for conversation_id in await self._transcript.pending_conversations():
            if not self._accepting:
                return True
            async with self._lock(conversation_id):
                if not await self._drain(conversation_id):
                    return False
        return True

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

    async def deliver(
        self, conversation_id: str, replies: Sequence[Reply], *, sender: str = "system"
    ) -> str:
        """Store and send messages the bot starts (notifications): 'sent', or 'stored' when
        they could only be kept in the transcript."""
        async with self._lock(conversation_id):
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
        self._publish_out(conversation_id, replies, sender, agent=agent, handoff_id=handoff_id)
        if await self.push(conversation_id, replies):
            return "sent"
        if self._channels.get(split_conversation_id(conversation_id)[0]) is not None:
            await self._transcript.set_status(ids, "failed")
        return "stored"

    async def _deliver_for_desk(
        self, conversation_id: str, replies: Sequence[Reply], sender: str
    ) -> str:
        return await self.deliver(conversation_id, replies, sender=sender)

    async def send_as_agent(self, conversation_id: str, text: str, agent: AgentRef) -> str:
        """An agent's message: stored (sender 'agent'), sent through the conversation's
        channel and published. The conversation's open handoff must be assigned to the agent
        (a supervisor may write in any open one), else `NotYourChat`. 'sent' or 'stored'."""
        if self.handoff is None:
            raise NotYourChat("human handoff is not enabled")
        async with self._lock(conversation_id):
            view = await self.handoff.open_for(conversation_id)
            if view is None or view.state != "assigned":
                raise NotYourChat(f"{conversation_id} has no chat assigned to an agent")
            if view.agent_id != agent.id and agent.role != "supervisor":
                raise NotYourChat(f"{conversation_id} is assigned to someone else")
            return await self._deliver_locked(
                conversation_id,
                (Reply(text=text),),
                sender="agent",
                agent=agent.username,
                handoff_id=view.id,
            )

    # --- events for the agent console -----------------------------------------------------

    def _publish_in(self, stored: StoredInbound, handoff_id: int | None) -> None:
        self.events.publish(
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

    def _publish_out(
        self,
        conversation_id: str,
        replies: Sequence[Reply],
        sender: str,
        *,
        agent: str | None = None,
        handoff_id: int | None = None,
    ) -> None:
        for reply in replies:
            self.events.publish(
                "message_out",
                {**reply.as_json(), "sender": sender, "agent": agent, "handoff_id": handoff_id},
                conversation_id=conversation_id,
            )

    # --- start and stop -------------------------------------------------------------------

    async def recover(self, *, stale_after: timedelta) -> int:
        """At start-up: messages a dead process left half-handled become pending again."""
        count = await self._transcript.recover_stale(datetime.now(UTC) - stale_after)
        if count:
            log.warning("%d message(s) left unanswered by an earlier run will be retried", count)
            self.pending_added.set()
        return count

    @property
    def accepting(self) -> bool:
        return self._accepting

    async def close(self, grace: float) -> None:
        """Stop taking messages, let the ones being handled finish (at most `grace` seconds;
        the rest are cancelled and stay pending for the next start), then stop the
        background work."""
        self._accepting = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if self._inflight:
            log.info("waiting for %d message(s) being handled", len(self._inflight))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
            for task in list(self._inflight):
                task.cancel()
        if self._background:
            remaining = max(0.0, deadline - loop.time())
            _, late = await asyncio.wait(list(self._background), timeout=max(remaining, 0.1))
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)


def _location(stored: StoredInbound) -> tuple[float, float] | None:
    return location_of(
        [
            Attachment(kind=a.get("kind", "other"), data=dict(a.get("data") or {}))
            for a in stored.attachments
        ]
    )
