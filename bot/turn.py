"""One customer message's turn with Rasa, for a message this process holds ('received').

Earlier pending messages of the conversation go first (bot/pending.py); Rasa is asked with
{channel, language, user_id} as metadata; the replies are stored with the message's status and
the intent NLU found, in one transaction with the handoff desk's look for a waiting request;
then the desk's triggers may queue a handoff. When Rasa or the action server is down or too
slow the message is kept 'pending' and the customer gets the '系统繁忙' notice (or a person
takes it: the failure trigger); a turn cancelled or failing half-way leaves it pending too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot.inbound import location_of
from bot.inbox_capture import InboxCapture
from bot.messages import CLIENT_ADDRESS, Attachment, HandleResult, Reply
from bot.rasa_client import (
    MESSAGE_KEY,
    ON_DUTY_KEY,
    RETRY_KEY,
    RasaRejected,
    RasaUnavailable,
    TurnTracker,
    intent_from_latest,
)
from bot.rasa_errors import ActionsUnavailable
from bot.router_core import RouterCore
from bot.transcript import AlreadyAnswered, StoredInbound

log = logging.getLogger(__name__)

Drain = Callable[[str, int | None], Awaitable[bool]]
"""Answer a conversation's pending messages older than a message (bot/pending.py)."""


class Turn:
    def __init__(self, core: RouterCore, capture: InboxCapture, drain: Drain) -> None:
        self._core = core
        self._rasa = core.backends.rasa
        self._capture = capture
        self._drain = drain

    async def answer_with_rasa(
        self, stored: StoredInbound, earlier_pending: bool, out: str, *, retry: bool = False
    ) -> HandleResult:
        """The turn of a message this process holds ('received'): earlier pending messages of
        the conversation first; '系统繁忙' and pending when Rasa is down. A turn cancelled or
        failing unexpectedly leaves the message pending for the retry worker."""
        cid = stored.conversation_id
        try:
            if await self._core.backends.holding() or (
                earlier_pending and not await self._drain(cid, stored.id)
            ):
                return await self.defer(stored, out=out)
            replies = await self.turn(stored, retry=retry, out=out)
        except RasaUnavailable as exc:
            log.warning("%s: Rasa unavailable (%s): message kept pending", cid, exc)
            self._core.backends.mark_down(exc)
            kind = "action_failure" if "action server" in str(exc) else "rasa_timeout"
            return await self.defer(stored, kind, out=out)
        except RasaRejected as exc:
            log.error("%s: Rasa refused the message (%s)", cid, exc)
            return HandleResult(cid, await self.fail(stored, out))
        except AlreadyAnswered:
            log.warning("%s: message %s was answered by another turn", cid, stored.id)
            return HandleResult(cid, (), duplicate=True)
        except BaseException:
            await self.keep_pending(stored)
            raise
        return HandleResult(cid, replies)

    def _rasa_text(self, stored: StoredInbound) -> str:
        """The text Rasa gets: the customer's, or for a bare shared location its coordinates
        in words (conf/gateway.yml replies.location)."""
        location = _location(stored)
        if stored.text or location is None:
            return stored.text
        lat, lon = (f"{v:.5f}" for v in location)
        return self._core.replies.texts.reply(
            "location", stored.language, latitude=lat, longitude=lon
        )

    def _metadata(self, stored: StoredInbound, *, retry: bool = False) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "channel": stored.channel,
            "language": stored.language,
            "user_id": stored.user_id,
            MESSAGE_KEY: stored.key,
        }
        if retry:  # Rasa answers it from the tracker if an earlier attempt ran it after all
            metadata[RETRY_KEY] = True
        if self._core.handoff is not None:
            # the assistant answers "转人工" by the same schedule the desk queues by
            metadata[ON_DUTY_KEY] = self._core.handoff.agents_on_duty()
        if stored.client_address:  # identity verification counts failures per address
            metadata[CLIENT_ADDRESS] = stored.client_address
        location = _location(stored)
        if location is not None:
            metadata["location"] = {"latitude": location[0], "longitude": location[1]}
        return metadata

    async def turn(
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
            if replies is not None:  # Rasa answers (from its tracker): it is up
                await self._core.backends.answered(kept=True)
        if replies is None:
            answer = await self._rasa.send(
                stored.conversation_id,
                self._rasa_text(stored),
                self._metadata(stored, retry=retry),
                input_channel=stored.channel,
            )
            replies, latest = answer.replies, answer.latest
            if not replies and not await self._core.backends.actions_up(fresh=True):
                # a Rasa without the gateway channel swallows action server errors and answers
                # nothing (the gateway channel answers ActionsUnavailable itself)
                raise ActionsUnavailable()
            # before the reply is stored: no new message is kept once a customer can see it
            # (a kept message: also where this replica's flag is not up, as another may hold)
            await self._core.backends.answered(kept=retry)
        result = tuple(replies)
        # What NLU made of the message: the handoff triggers and the recorded intent both use
        # it. Rasa's answer says it (the gateway channel): it is stored with the replies, in
        # one transaction with the handoff desk's look for a waiting request. Otherwise the
        # tracker's latest message is read once, while the replies are stored, and the intent
        # recorded in the background.
        tracker = TurnTracker(self._rasa, stored.conversation_id, latest)
        guess = intent_from_latest(latest, stored.key)
        desk = self._core.handoff
        stored_replies = self._core.transcript.answer_turn(
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
            landing = self._capture.landing(guess)
            if landing is not None:  # rare: no task for the usual turn
                self._core.ordering.spawn(self._capture.capture(stored, landing))
        else:
            waiting, _ = await asyncio.gather(stored_replies, _prefetch_latest(tracker))
            self._core.ordering.spawn(self._record_intent(stored, tracker))
        self._core.events.outgoing(stored.conversation_id, result, "bot")
        # HANDOFF HOOK (triggers): the turn may have queued the conversation for a person
        if desk is not None:
            extra = await desk.after_turn(stored, tracker, waiting)
            if extra:
                await self._core.transcript.deliver(
                    stored.conversation_id, extra, sender="system", status=out
                )
                self._core.events.outgoing(stored.conversation_id, extra, "system")
                result += extra
        return result

    async def defer(
        self, stored: StoredInbound, kind: str = "rasa_timeout", *, out: str = "processed"
    ) -> HandleResult:
        cid = stored.conversation_id
        # HANDOFF HOOK (failure trigger): a person takes the message instead of the retry worker
        if self._core.handoff is not None:
            queued = await self._core.handoff.on_failure(stored, kind)
            if queued:
                if not await self.answered(stored, queued, "processed", out):
                    return HandleResult(cid, (), duplicate=True)
                self._core.events.outgoing(cid, queued, "system")
                return HandleResult(cid, queued)
        notice = (self._core.replies.reply("busy", stored.language),)
        if not await self.answered(stored, notice, "pending", out):
            return HandleResult(cid, (), duplicate=True)
        self._core.pending_added.set()
        return HandleResult(cid, notice, degraded=True)

    async def answered(
        self, stored: StoredInbound, replies: Sequence[Reply], status: str, out: str
    ) -> bool:
        """The gateway's own replies to a message this turn holds ('received') stored with its
        new status; False when another turn answered it first (nothing stored)."""
        try:
            await self._core.transcript.answer(
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

    async def keep_pending(self, stored: StoredInbound) -> None:
        """A turn was cancelled (shutdown) or failed unexpectedly: the message is left for the
        retry worker (at once, or at the next start)."""
        with contextlib.suppress(Exception):
            if await self._core.transcript.set_status([stored.id], "pending", expected="received"):
                self._core.pending_added.set()

    async def fail(self, stored: StoredInbound, out: str = "processed") -> tuple[Reply, ...]:
        error: tuple[Reply, ...] = (self._core.replies.reply("error", stored.language),)
        # HANDOFF HOOK (failure trigger): Rasa refused the message: a person may take over
        if self._core.handoff is not None:
            error += await self._core.handoff.on_failure(stored, "action_failure")
        if not await self.answered(stored, error, "failed", out):
            return ()
        self._core.events.outgoing(stored.conversation_id, error, "system")
        return error

    async def _record_intent(self, stored: StoredInbound, tracker: TurnTracker) -> None:
        try:
            guess = await tracker.intent_of(stored.key)
        except RasaUnavailable as exc:
            log.info("%s: intent not recorded (%s)", stored.conversation_id, exc)
            return
        if guess is not None:
            await self._core.transcript.set_intent(stored.id, guess.name, guess.confidence)
            landing = self._capture.landing(guess)
            if landing is not None:
                await self._capture.capture(stored, landing)


async def _prefetch_latest(tracker: TurnTracker) -> None:
    """Read the tracker's latest message while the replies are stored: its readers (the
    handoff triggers, the recorded intent) then find it read, or its failure, which each
    of them handles."""
    with contextlib.suppress(RasaUnavailable):
        await tracker.latest()


def _location(stored: StoredInbound) -> tuple[float, float] | None:
    return location_of(
        [
            Attachment(kind=a.get("kind", "other"), data=dict(a.get("data") or {}))
            for a in stored.attachments
        ]
    )
