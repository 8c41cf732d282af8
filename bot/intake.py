"""A customer message arriving: stored (the database decides duplicates), triaged, shown to the
handoff desk's gate, then answered by the gateway itself (empty, not text, too long), by the
gate (an open handoff), or by its turn with Rasa (bot/turn.py).

A redelivery of a message that was stored but never answered, and that no turn of this process
holds (its gateway died), is answered now instead of being dropped as a duplicate.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.inbound import Triage, choose_language, triage
from bot.messages import HandleResult, Inbound
from bot.router_core import RouterCore
from bot.transcript import Received, StoredInbound
from bot.turn import Turn
from store.statuses import MessageSender, MessageStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
T = TypeVar("T")


class Early(enum.Enum):
    """`handle`: the message is stored under the conversation's lock, not before it."""

    NOT_YET = "not stored yet"


def _first_status(verdict: Triage) -> str:
    """A new message's status: 'received' while its turn runs; messages the gateway answers
    itself (empty, not text, too long) are 'processed' at once."""
    return MessageStatus.RECEIVED if verdict.verdict == "rasa" else MessageStatus.PROCESSED


class Intake:
    def __init__(self, core: RouterCore, turn: Turn) -> None:
        self._core = core
        self._transcript = core.transcript
        self._turn = turn

    def _triage(self, message: Inbound) -> Triage:
        return triage(message.text, message.attachments, self._core.replies.max_chars)

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

    async def keep_for_next_start(self, message: Inbound, out: str) -> HandleResult:
        """Shutting down: the message is stored pending (the next start answers it, as after
        an outage of Rasa) and the customer told the system is busy, so a channel that has
        already acknowledged it (Telegram polling) loses nothing. Raises when even that fails
        (the database is gone): the router then says it is closed."""
        verdict = self._triage(message)
        kept = verdict.verdict == "rasa"
        received: Received[None] | None = await self._receive(
            message, verdict, MessageStatus.PENDING if kept else MessageStatus.PROCESSED
        )
        if received is None:
            return HandleResult(message.conversation_id, (), duplicate=True)
        stored = received.stored
        notice = (self._core.replies.reply("busy" if kept else verdict.verdict, stored.language),)
        await self._transcript.answer(
            stored.id,
            stored.conversation_id,
            notice,
            inbound_status=MessageStatus.PENDING if kept else MessageStatus.PROCESSED,
            sender=MessageSender.SYSTEM,
            outbound_status=out,
        )
        log.info("%s: shutting down: message kept for the next start", stored.conversation_id)
        return HandleResult(stored.conversation_id, notice, degraded=kept)

    async def store_early(self, message: Inbound) -> Received[Any] | None:
        """The conversation is busy (an earlier message's turn, a retry): this message is
        stored now, so that its channel may confirm it at once; the handoff gate sees it when
        its turn comes (`Transcript.regate`)."""
        verdict = self._triage(message)
        async with self._core.ordering.admission(message.conversation_id):
            received: Received[None] | None = await self._receive(
                message, verdict, _first_status(verdict)
            )
        if received is not None:
            self._core.ordering.live.add(received.stored.id)
        return received

    async def handle_locked(
        self,
        message: Inbound,
        early: Received[Any] | Early | None,
        stored_now: Callable[[], None],
        out: str,
    ) -> HandleResult:
        """The message's turn has come (the caller holds the conversation's lock)."""
        verdict = self._triage(message)
        gate = self._core.handoff.gate_in if self._core.handoff is not None else None
        received: Received[Any] | None
        if early is Early.NOT_YET:
            # HANDOFF HOOK (gate): decided in the transaction that stores the message
            async with self._core.ordering.admission(message.conversation_id):
                received = await self._receive(message, verdict, _first_status(verdict), gate)
            stored_now()
        elif early is None:
            received = None
        else:  # stored while an earlier message had its turn: the gate sees it now
            received = await self._transcript.regate(early.stored, gate)
        if received is None:
            return await self._again(message, out)
        live = self._core.ordering.live
        live.add(received.stored.id)
        try:
            return await self._answer_new(received, verdict, out)
        finally:
            live.discard(received.stored.id)

    async def _answer_new(self, received: Received[Any], verdict: Triage, out: str) -> HandleResult:
        """A message just stored: the handoff gate's decision, a polite refusal, or its turn."""
        stored = received.stored
        cid = stored.conversation_id
        desk = self._core.handoff
        # HANDOFF HOOK (gate): during an open handoff the bot never answers; Rasa is not called
        handoff_id: int | None = None
        if desk is not None and received.then is not None:
            gate = desk.gate_done(received.then)
            handoff_id = gate.handoff.id if gate.handoff is not None else None
            self._core.events.incoming(stored, handoff_id)
            if gate.handled:
                await self._transcript.answer(
                    stored.id,
                    cid,
                    gate.replies,
                    inbound_status=MessageStatus.PROCESSED,
                    sender=MessageSender.SYSTEM,
                    outbound_status=out,
                )
                self._core.events.outgoing(
                    cid, gate.replies, MessageSender.SYSTEM, handoff_id=handoff_id
                )
                return HandleResult(cid, gate.replies)
        else:
            self._core.events.incoming(stored, None)
        if verdict.verdict != "rasa":
            replies = (self._core.replies.reply(verdict.verdict, stored.language),)
            await self._transcript.answer(
                stored.id,
                cid,
                replies,
                inbound_status=MessageStatus.PROCESSED,
                sender=MessageSender.SYSTEM,
                outbound_status=out,
            )
            self._core.events.outgoing(cid, replies, MessageSender.SYSTEM)
            return HandleResult(cid, replies)
        return await self._turn.answer_with_rasa(stored, received.earlier_pending, out)

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
        live = self._core.ordering.live
        if found is None or found[0].id in live:
            log.info("%s: message %s was already received", cid, message.external_id)
            return duplicate
        stored, status = found
        if await self._core.backends.holding():  # it waits for Rasa like the others; told so
            if await self._transcript.set_status(
                [stored.id], MessageStatus.PENDING, expected=MessageStatus.RECEIVED
            ):
                self._core.pending_added.set()
            return HandleResult(
                cid, (self._core.replies.reply("busy", stored.language),), degraded=True
            )
        if not await self._transcript.set_status(
            [stored.id], MessageStatus.RECEIVED, expected=status
        ):
            return duplicate  # the retry worker (or another process) claimed it just now
        log.info("%s: message %s was never answered: answering it now", cid, message.external_id)
        live.add(stored.id)
        try:
            # HANDOFF HOOK (gate): a person has the chat now: they read it, not Rasa
            if self._core.handoff is not None and await self._core.handoff.is_open(cid):
                await self._transcript.set_status(
                    [stored.id], MessageStatus.PROCESSED, expected=MessageStatus.RECEIVED
                )
                return HandleResult(cid, ())
            return await self._turn.answer_with_rasa(stored, True, out, retry=True)
        finally:
            live.discard(stored.id)
