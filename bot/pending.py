"""Messages that wait: customer messages kept 'pending' while Rasa was down (answered in order
through their conversation's channel, by a later turn of the conversation or the retry worker),
and what a dead process left behind (`recover` at start-up, `sweep` on every pass of the retry
worker: customer messages stuck in 'received', replies stored but never sent)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.delivery import Delivery
from bot.messages import Reply
from bot.outbox import Outbox
from bot.rasa_client import RasaRejected, RasaUnavailable
from bot.router_core import RouterCore
from bot.transcript import AlreadyAnswered, StoredInbound
from bot.turn import Turn

log = logging.getLogger(__name__)


class Pending:
    def __init__(
        self,
        core: RouterCore,
        *,
        outbox: Outbox,
        delivery: Delivery,
        turn: Turn,
        accepting: Callable[[], bool],
    ) -> None:
        self._core = core
        self._transcript = core.transcript
        self._outbox = outbox
        self._delivery = delivery
        self._turn = turn
        self._accepting = accepting

    async def drain(self, conversation_id: str, before: int | None = None) -> bool:
        """Answer the conversation's pending messages (older than message `before`) in order,
        through its channel. False (the rest stays pending) as soon as Rasa fails. Call with
        the conversation's lock."""
        pending = await self._transcript.pending_inbound(conversation_id, before)
        # HANDOFF HOOK (gate): a person has the chat now: they read these, not Rasa
        if (
            pending
            and self._core.handoff is not None
            and await self._core.handoff.is_open(conversation_id)
        ):
            await self._transcript.set_status([p.id for p in pending], "processed")
            return True
        out = self._outbox.status(conversation_id, push=True)
        live = self._core.ordering.live
        for stored in pending:
            if not await self._transcript.set_status([stored.id], "received", expected="pending"):
                continue  # another worker or process has it
            live.add(stored.id)
            try:
                replies = await self._retry_turn(stored, out)
            finally:
                live.discard(stored.id)
            if replies is None:
                return False
            await self._delivery.send_out(conversation_id, replies, out)
        return True

    async def _retry_turn(self, stored: StoredInbound, out: str) -> tuple[Reply, ...] | None:
        """A pending message's turn (claimed: 'received'); None when Rasa is still down (the
        message is pending again). A message whose turn fails unexpectedly gets the polite
        error reply rather than being retried forever."""
        turn = self._turn
        cid = stored.conversation_id
        try:
            return await turn.turn(stored, retry=True, out=out)
        except RasaUnavailable as exc:
            log.info("%s: still no answer from Rasa (%s)", cid, exc)
            await self._transcript.set_status([stored.id], "pending", expected="received")
            self._core.backends.mark_down(exc)
            return None
        except RasaRejected:
            return await turn.fail(stored, out)
        except AlreadyAnswered:
            return ()
        except asyncio.CancelledError:
            await turn.keep_pending(stored)
            raise
        except Exception:
            log.exception("%s: message %s failed again: answered with an apology", cid, stored.id)
            return await turn.fail(stored, out)

    async def drain_all(self) -> bool:
        """Answer every conversation's pending messages (the retry worker's pass)."""
        for conversation_id in await self._transcript.pending_conversations():
            if not self._accepting():
                return True
            async with self._core.ordering.lock(conversation_id):
                if not await self.drain(conversation_id):
                    return False
        return True

    # --- what a dead process left ---------------------------------------------------------

    async def recover(self, stale_after: timedelta | None = None) -> int:
        """At start-up, before any channel: the customer messages an earlier run left in the
        middle of their turn ('received': it died) become pending, whatever their age, and
        the retry worker answers them; the replies it stored but never sent go out with the
        worker's first sweep. With other replicas running (`stale_after`), only what is older
        than that: the messages younger are theirs, in their turns. How many were recovered."""
        now = datetime.now(UTC)
        before = now if stale_after is None else now - stale_after
        count = await self._transcript.recover_stale(before, sorted(self._core.ordering.live))
        if count:
            log.warning("%d message(s) left unanswered by an earlier run will be retried", count)
        unsent = await self._outbox.release(before)
        if unsent:
            log.warning("%d reply(ies) an earlier run was sending will be sent again", unsent)
        self._core.pending_added.set()
        return count

    async def sweep(self, stale_after: timedelta) -> bool:
        """The retry worker's look for work nobody does, on every pass: customer messages in
        'received' for longer than `stale_after` that no turn of this process holds (a turn
        that failed half-way, or another gateway process that died) become pending; replies
        stored but never sent are sent. False when some of those still wait for a channel
        that is not ready."""
        since = datetime.now(UTC) - stale_after
        count = await self._transcript.recover_stale(since, sorted(self._core.ordering.live))
        if count:
            log.warning("%d message(s) stuck half-way will be retried", count)
        await self._outbox.release(since)
        return await self.flush_all()

    async def flush_all(self) -> bool:
        """Send every conversation's replies that were stored but not sent (a crash came in
        between, or the channel was not ready); False when some must wait longer."""
        done = True
        for conversation_id in await self._transcript.undelivered_conversations():
            async with self._core.ordering.lock(conversation_id):
                done = await self._outbox.flush(conversation_id) and done
        return done
