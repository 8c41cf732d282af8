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
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from bot.backends import Backends
from bot.channels.base import Channel
from bot.events import EventHub
from bot.inbound import Triage, choose_language, location_of, triage
from bot.messages import (
    CLIENT_ADDRESS,
    Attachment,
    HandleResult,
    Inbound,
    Reply,
    TranscriptEntry,
)
from bot.outbox import TRACKED, Outbox
from bot.rasa_client import (
    MESSAGE_KEY,
    ON_DUTY_KEY,
    RasaRejected,
    RasaUnavailable,
    TurnTracker,
    intent_from_latest,
)
from bot.texts import GatewayTexts
from bot.transcript import (
    AlreadyAnswered,
    Received,
    StoredInbound,
    Transcript,
    split_conversation_id,
)
from store.roles import SEES_STATION
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
        self._admissions: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._busy: dict[str, int] = {}
        """How many messages of each conversation are inside `handle` (answered or waiting)."""
        self._live: set[int] = set()
        """Customer messages this process is answering or about to (stored, waiting for their
        turn): the sweep for stuck messages leaves them alone."""
        self._accepting = True
        self._inflight: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._background: set[asyncio.Task[None]] = set()
        self.pending_added = asyncio.Event()
        """Set whenever a message is kept pending (or replies wait for their channel): wakes
        the retry worker."""
        self._outbox = Outbox(transcript, self._channels, self.pending_added)

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
        notice = self._texts.reply("account_data_hidden", language)
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
        if not self._accepting:
            result = await self._keep_for_next_start(message, out)
            stored_now()
            if not push:
                return result
            async with self._lock(cid):
                return await self._pushed(result, out)
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        self._idle.clear()
        self._busy[cid] = self._busy.get(cid, 0) + 1
        early: Received[Any] | _Early | None = _Early.NOT_YET
        try:
            if self._busy[cid] > 1 or self._lock(cid).locked():  # the conversation is busy
                early = await self._store_early(message)
                stored_now()
            async with self._lock(cid):
                result = await self._handle_locked(message, early, stored_now, out)
                return await self._pushed(result, out) if push else result
        except asyncio.CancelledError:
            if isinstance(early, Received):  # cancelled while it waited for its turn
                await self._keep_pending(early.stored)
            raise
        finally:
            if isinstance(early, Received):
                self._live.discard(early.stored.id)
            self._busy[cid] -= 1
            if not self._busy[cid]:
                del self._busy[cid]
            if task is not None:
                self._inflight.discard(task)
            if not self._inflight:
                self._idle.set()

    async def show_history(
        self,
        conversation_id: str,
        limit: int,
        show: Callable[[list[TranscriptEntry]], Awaitable[None]],
    ) -> None:
        """The conversation's history, read and shown (`show`) while none of its replies is
        being stored or pushed: a reply the retry worker sends (e.g. to a tab that reconnected
        after a restart) is then either in that history or pushed after it, never both."""
        async with self._lock(conversation_id):
            await show(await self.history(conversation_id, limit))

    async def _keep_for_next_start(self, message: Inbound, out: str) -> HandleResult:
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
                outbound_status=out,
            )
        except Exception as exc:
            raise RouterClosed("the gateway is shutting down") from exc
        log.info("%s: shutting down: message kept for the next start", stored.conversation_id)
        return HandleResult(stored.conversation_id, notice, degraded=kept)

    # --- delivery by the router (push) ------------------------------------------------------

    async def _pushed(self, result: HandleResult, out: str) -> HandleResult:
        """Push mode: the result's replies sent (tracked ones through the outbox, with any a
        crash left behind). Call with the conversation's lock."""
        await self._send_out(result.conversation_id, result.replies, out)
        return replace(result, delivered=True)

    async def _send_out(self, conversation_id: str, replies: Sequence[Reply], out: str) -> bool:
        """Replies the router delivers itself (push mode, retries): tracked ones through the
        outbox, the others at once (best effort). Call with the conversation's lock."""
        if out == TRACKED:
            return await self._outbox.flush(conversation_id)
        return await self.push(conversation_id, replies)

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

    def _admission(self, conversation_id: str) -> asyncio.Lock:
        """Held while a message of the conversation is stored: ids follow the order messages
        arrived in, and so do their turns (each queues for the conversation's lock at once)."""
        lock = self._admissions.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._admissions[conversation_id] = lock
        return lock

    async def _store_early(self, message: Inbound) -> Received[Any] | None:
        """The conversation is busy (an earlier message's turn, a retry): this message is
        stored now, so that its channel may confirm it at once; the handoff gate sees it when
        its turn comes (`Transcript.regate`)."""
        verdict = triage(message.text, message.attachments, self._max_chars)
        async with self._admission(message.conversation_id):
            received: Received[None] | None = await self._receive(
                message, verdict, _first_status(verdict)
            )
        if received is not None:
            self._live.add(received.stored.id)
        return received

    async def _handle_locked(
        self,
        message: Inbound,
        early: Received[Any] | _Early | None,
        stored_now: Callable[[], None],
        out: str,
    ) -> HandleResult:
        verdict = triage(message.text, message.attachments, self._max_chars)
        gate = self.handoff.gate_in if self.handoff is not None else None
        received: Received[Any] | None
        if early is _Early.NOT_YET:
            # HANDOFF HOOK (gate): decided in the transaction that stores the message
            async with self._admission(message.conversation_id):
                received = await self._receive(message, verdict, _first_status(verdict), gate)
            stored_now()
        elif early is None:
            received = None
        else:  # stored while an earlier message had its turn: the gate sees it now
            received = await self._transcript.regate(early.stored, gate)
        if received is None:
            return await self._again(message, out)
        self._live.add(received.stored.id)
        try:
            return await self._answer_new(received, verdict, out)
        finally:
            self._live.discard(received.stored.id)

    async def _answer_new(self, received: Received[Any], verdict: Triage, out: str) -> HandleResult:
        """A message just stored: the handoff gate's decision, a polite refusal, or its turn."""
        stored = received.stored
        cid = stored.conversation_id
        desk = self.handoff
        # HANDOFF HOOK (gate): during an open handoff the bot never answers; Rasa is not called
        handoff_id: int | None = None
        if desk is not None and received.then is not None:
            gate = desk.gate_done(received.then)
            handoff_id = gate.handoff.id if gate.handoff is not None else None
            self._publish_in(stored, handoff_id)
            if gate.handled:
                await self._transcript.answer(
                    stored.id,
                    cid,
                    gate.replies,
                    inbound_status="processed",
                    sender="system",
                    outbound_status=out,
                )
                self._publish_out(cid, gate.replies, "system", handoff_id=handoff_id)
                return HandleResult(cid, gate.replies)
        else:
            self._publish_in(stored, None)
        if verdict.verdict != "rasa":
            replies = (self._reply(verdict.verdict, stored.language),)
            await self._transcript.answer(
                stored.id,
                cid,
                replies,
                inbound_status="processed",
                sender="system",
                outbound_status=out,
            )
            self._publish_out(cid, replies, "system")
            return HandleResult(cid, replies)
        return await self._answer_with_rasa(stored, received.earlier_pending, out)

    async def _again(self, message: Inbound, out: str) -> HandleResult:
        """The message was stored before: a redelivery, or a resend after a reconnect or a
        restart. Never answered and no turn of this process has it (its gateway died, or its
        turn was cut short): it is answered now, as a retry (a turn Rasa finished before the
        crash is not run again). Otherwise a duplicate: nothing is processed twice."""
        cid = message.conversation_id
        duplicate = HandleResult(cid, (), duplicate=True)
        found = None
        if message.external_id is not None:
            found = await self._transcript.unanswered(cid, message.external_id)
        if found is None or found[0].id in self._live:
            log.info("%s: message %s was already received", cid, message.external_id)
            return duplicate
        stored, status = found
        if self._backends.down:  # it waits for Rasa like the others; the customer is told so
            if await self._transcript.set_status([stored.id], "pending", expected="received"):
                self.pending_added.set()
            return HandleResult(cid, (self._reply("busy", stored.language),), degraded=True)
        if not await self._transcript.set_status([stored.id], "received", expected=status):
            return duplicate  # the retry worker (or another process) claimed it just now
        log.info("%s: message %s was never answered: answering it now", cid, message.external_id)
        self._live.add(stored.id)
        try:
            # HANDOFF HOOK (gate): a person has the chat now: they read it, not Rasa
            if self.handoff is not None and await self.handoff.is_open(cid):
                await self._transcript.set_status([stored.id], "processed", expected="received")
                return HandleResult(cid, ())
            return await self._answer_with_rasa(stored, True, out, retry=True)
        finally:
            self._live.discard(stored.id)

    async def _answer_with_rasa(
        self, stored: StoredInbound, earlier_pending: bool, out: str, *, retry: bool = False
    ) -> HandleResult:
        """The turn of a message this process holds ('received'): earlier pending messages of
        the conversation first; '系统繁忙' and pending when Rasa is down. A turn cancelled or
        failing unexpectedly leaves the message pending for the retry worker."""
        cid = stored.conversation_id
        try:
            if self._backends.down or (
                earlier_pending and not await self._drain(cid, before=stored.id)
            ):
                return await self._defer(stored, out=out)
            replies = await self._turn(stored, retry=retry, out=out)
        except RasaUnavailable as exc:
            log.warning("%s: Rasa unavailable (%s): message kept pending", cid, exc)
            self._backends.mark_down()
            kind = "action_failure" if "action server" in str(exc) else "rasa_timeout"
            return await self._defer(stored, kind, out=out)
        except RasaRejected as exc:
            log.error("%s: Rasa refused the message (%s)", cid, exc)
            return HandleResult(cid, await self._fail(stored, out))
        except AlreadyAnswered:
            log.warning("%s: message %s was answered by another turn", cid, stored.id)
            return HandleResult(cid, (), duplicate=True)
        except BaseException:
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
        if self.handoff is not None:
            # the assistant answers "转人工" by the same schedule the desk queues by
            metadata[ON_DUTY_KEY] = self.handoff.agents_on_duty()
        if stored.client_address:  # identity verification counts failures per address
            metadata[CLIENT_ADDRESS] = stored.client_address
        location = _location(stored)
        if location is not None:
            metadata["location"] = {"latitude": location[0], "longitude": location[1]}
        return metadata

    async def _turn(
        self, stored: StoredInbound, *, retry: bool, out: str = "processed"
    ) -> tuple[Reply, ...]:
        """Ask Rasa about one stored message, store its replies (with status `out`);
        RasaUnavailable when it (or the action server behind it) did not answer,
        AlreadyAnswered when another turn stored an answer first."""
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
            outbound_status=out,
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
                await self._transcript.deliver(
                    stored.conversation_id, extra, sender="system", status=out
                )
                self._publish_out(stored.conversation_id, extra, "system")
                result += extra
        return result

    async def _defer(
        self, stored: StoredInbound, kind: str = "rasa_timeout", *, out: str = "processed"
    ) -> HandleResult:
        cid = stored.conversation_id
        # HANDOFF HOOK (failure trigger): a person takes the message instead of the retry worker
        if self.handoff is not None:
            queued = await self.handoff.on_failure(stored, kind)
            if queued:
                if not await self._answered(stored, queued, "processed", out):
                    return HandleResult(cid, (), duplicate=True)
                self._publish_out(cid, queued, "system")
                return HandleResult(cid, queued)
        notice = (self._reply("busy", stored.language),)
        if not await self._answered(stored, notice, "pending", out):
            return HandleResult(cid, (), duplicate=True)
        self.pending_added.set()
        return HandleResult(cid, notice, degraded=True)

    async def _answered(
        self, stored: StoredInbound, replies: Sequence[Reply], status: str, out: str
    ) -> bool:
        """The gateway's own replies to a message this turn holds ('received') stored with its
        new status; False when another turn answered it first (nothing stored)."""
        try:
            await self._transcript.answer(
                stored.id,
                stored.conversation_id,
                replies,
                inbound_status=status,
                sender="system",
                expected="received",
                outbound_status=out,
            )
        except AlreadyAnswered:
            log.warning(
                "%s: message %s was answered by another turn", stored.conversation_id, stored.id
            )
            return False
        return True

    async def _keep_pending(self, stored: StoredInbound) -> None:
        """A turn was cancelled (shutdown) or failed unexpectedly: the message is left for the
        retry worker (at once, or at the next start)."""
        with contextlib.suppress(Exception):
            if await self._transcript.set_status([stored.id], "pending", expected="received"):
                self.pending_added.set()

    async def _fail(self, stored: StoredInbound, out: str = "processed") -> tuple[Reply, ...]:
        error: tuple[Reply, ...] = (self._reply("error", stored.language),)
        # HANDOFF HOOK (failure trigger): Rasa refused the message: a person may take over
        if self.handoff is not None:
            error += await self.handoff.on_failure(stored, "action_failure")
        if not await self._answered(stored, error, "failed", out):
            return ()
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

    async def _drain(self, conversation_id: str, before: int | None = None) -> bool:
        """Answer the conversation's pending messages (older than message `before`) in order,
        through its channel. False (the rest stays pending) as soon as Rasa fails. Call with
        the conversation's lock."""
        pending = await self._transcript.pending_inbound(conversation_id, before)
        # HANDOFF HOOK (gate): a person has the chat now: they read these, not Rasa
        if pending and self.handoff is not None and await self.handoff.is_open(conversation_id):
            await self._transcript.set_status([p.id for p in pending], "processed")
            return True
        out = self._outbox.status(conversation_id, push=True)
        for stored in pending:
            if not await self._transcript.set_status([stored.id], "received", expected="pending"):
                continue  # another worker or process has it
            self._live.add(stored.id)
            try:
                replies = await self._retry_turn(stored, out)
            finally:
                self._live.discard(stored.id)
            if replies is None:
                return False
            await self._send_out(conversation_id, replies, out)
        return True

    async def _retry_turn(self, stored: StoredInbound, out: str) -> tuple[Reply, ...] | None:
        """A pending message's turn (claimed: 'received'); None when Rasa is still down (the
        message is pending again). A message whose turn fails unexpectedly gets the polite
        error reply rather than being retried forever."""
        cid = stored.conversation_id
        try:
            return await self._turn(stored, retry=True, out=out)
        except RasaUnavailable as exc:
            log.info("%s: still no answer from Rasa (%s)", cid, exc)
            await self._transcript.set_status([stored.id], "pending", expected="received")
            self._backends.mark_down()
            return None
        except RasaRejected:
            return await self._fail(stored, out)
        except AlreadyAnswered:
            return ()
        except asyncio.CancelledError:
            await self._keep_pending(stored)
            raise
        except Exception:
            log.exception("%s: message %s failed again: answered with an apology", cid, stored.id)
            return await self._fail(stored, out)

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
            if view.agent_id != agent.id and agent.role not in SEES_STATION:
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

    async def recover(self) -> int:
        """At start-up, before any channel: the customer messages an earlier run left in the
        middle of their turn ('received': it died) become pending, whatever their age, and
        the retry worker answers them; the replies it stored but never sent go out with the
        worker's first sweep. How many messages were recovered."""
        now = datetime.now(UTC)
        count = await self._transcript.recover_stale(now, sorted(self._live))
        if count:
            log.warning("%d message(s) left unanswered by an earlier run will be retried", count)
        unsent = await self._outbox.release(now)
        if unsent:
            log.warning("%d reply(ies) an earlier run was sending will be sent again", unsent)
        self.pending_added.set()
        return count

    async def sweep(self, stale_after: timedelta) -> bool:
        """The retry worker's look for work nobody does, on every pass: customer messages in
        'received' for longer than `stale_after` that no turn of this process holds (a turn
        that failed half-way, or another gateway process that died) become pending; replies
        stored but never sent are sent. False when some of those still wait for a channel
        that is not ready."""
        since = datetime.now(UTC) - stale_after
        count = await self._transcript.recover_stale(since, sorted(self._live))
        if count:
            log.warning("%d message(s) stuck half-way will be retried", count)
        await self._outbox.release(since)
        return await self.flush_all()

    async def flush_all(self) -> bool:
        """Send every conversation's replies that were stored but not sent (a crash came in
        between, or the channel was not ready); False when some must wait longer."""
        done = True
        for conversation_id in await self._transcript.undelivered_conversations():
            async with self._lock(conversation_id):
                done = await self._outbox.flush(conversation_id) and done
        return done

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


class _Early(enum.Enum):
    """`handle`: the message is stored under the conversation's lock, not before it."""

    NOT_YET = "not stored yet"


def _nothing() -> None:
    """No `on_stored` callback."""


def _first_status(verdict: Triage) -> str:
    """A new message's status: 'received' while its turn runs; messages the gateway answers
    itself (empty, not text, too long) are 'processed' at once."""
    return "received" if verdict.verdict == "rasa" else "processed"


def _location(stored: StoredInbound) -> tuple[float, float] | None:
    return location_of(
        [
            Attachment(kind=a.get("kind", "other"), data=dict(a.get("data") or {}))
            for a in stored.attachments
        ]
    )
