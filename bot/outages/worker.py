"""The outage-notice worker: every gateway replica works the queue of store/outages/.

One cycle: give back deliveries whose gateway died (their lease ran out), write the reminders
that are due, fan out the notices staff published (one delivery per customer), then, for each
channel with deliveries due, claim a batch with its sending slots (the channel's pace, shared by
every replica through the database) and send it: each message at its slot, one chat at most
once per `per_chat_seconds`, at most `concurrency` in flight, each marked once the channel took
it. Customers chatting meanwhile are not held up: the worker only takes the slots its channel
allows, and a conversation's lock only for the moment of sending.

What the channel answers decides: a rate limit (`SendLater`, Telegram's 429 with retry_after)
puts the delivery back after the wait and pauses the channel as long, for every replica; a
blocked bot (`RecipientGone`, Telegram's 403) ends the customer's subscriptions and records it;
one customer the channel cannot reach now (`NotNow`: WeChat's 45047, or its 48-hour window
closed with no template) holds that customer's notice only, not the channel: it is sent when
the customer writes again or after conf/outages.yml `delivery.held.retry_minutes`, and given up
as undeliverable (with the reason) once the notice is `give_up_hours` old; a channel not
connected yet is tried again later; any other failure is retried a few times, then given up
(failed). Stopping gives the claims not sent yet back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from bot.channels.base import NotNow, RecipientGone, SendLater
from bot.messages import Button, Reply
from bot.router import Router
from store.config import Settings
from store.configuration.outages import ChannelPace, OutageConfig
from store.db import run_unit
from store.outages import fanout, notices, queue, subscriptions
from store.outages.queue import Claimed
from store.statuses import DeliveryState, SubscriptionEnd

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")

NOT_CONNECTED_WAIT = timedelta(seconds=10)
"""A channel that cannot send yet (starting, reconnecting) is tried again after this."""
FAILURE_WAIT = timedelta(seconds=30)
"""After any other failure, times the attempt number."""
DB_THREADS = 2
"""The worker's own database threads (see OutageWorker._threads)."""
FAN_OUT_PER_CYCLE = 5
"""Notices fanned out before the cycle turns to sending (a burst of edits must not stall it)."""
_CHATS_REMEMBERED = 10_000


class OutageWorker:
    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        router: Router,
        settings: Settings,
        config: OutageConfig,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._router = router
        self._settings = settings
        self._config = config
        self._policy = config.delivery
        self._clock = clock
        self._token = secrets.token_hex(16)
        """This process's claims (several replicas share the queue)."""
        self._in_flight = asyncio.Semaphore(self._policy.concurrency)
        self._last_sent: OrderedDict[str, float] = OrderedDict()
        self._paused: dict[str, float] = {}
        self._admission: dict[str, asyncio.Lock] = {}
        self._recent: dict[str, deque[float]] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._housekept = 0.0
        self._threads = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="outage-notices")
        """The worker's database work has threads of its own: a fan-out never queues the
        customers' turns behind it in the event loop's default pool."""

    async def _db(self, work: Callable[[Session], T]) -> T:
        """`work` in one unit of work, in one of the worker's own threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, run_unit, self._factory, work)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outage-notices")

    async def stop(self, grace: float) -> None:
        """Finish what is being sent (at most `grace` seconds), then give back the rest."""
        self._stop.set()
        if self._task is not None:
            done, _ = await asyncio.wait([self._task], timeout=grace)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        try:
            released = await self._db(lambda s: queue.release(s, self._token))
        except Exception:
            log.exception("outage notices: could not give back the claims at shutdown")
            return
        finally:
            self._threads.shutdown(wait=False)
        if released:
            log.info("outage notices: %d claimed notices given back for the next gateway", released)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("outage notices: a cycle failed")
                busy = 0
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._policy.poll_seconds)

    # --- one cycle ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One cycle; how many notices were fanned out and deliveries finished."""
        now = self._clock()
        if time.monotonic() - self._housekept >= self._policy.poll_seconds:
            await self._db(lambda s: self._housekeeping(s, now))
            self._housekept = time.monotonic()
        done = await self._fan_out(now)
        quiet = self._config.quiet_hours.holds(now, self._settings.tz)
        channels = await self._db(lambda s: queue.channels_due(s, now=now, quiet=quiet))
        results = await asyncio.gather(*(self._work_channel(c, quiet) for c in channels))
        return done + sum(results)

    def _housekeeping(self, session: Session, now: datetime) -> None:
        released = queue.release_expired(session, now=now, lease=self._policy.lease)
        if released:
            log.warning("outage notices: %d claims of a gateway that died sent again", released)
        notices.write_due_reminders(session, self._settings, self._config, now=now)

    async def _fan_out(self, now: datetime) -> int:
        done = 0
        for _ in range(FAN_OUT_PER_CYCLE):
            notice_id = await self._db(fanout.next_queued)
            if notice_id is None or self._stop.is_set():
                break
            planned = await self._db(partial(fanout.plan, notice_id=notice_id))
            if planned is None:
                continue
            count = await self._db(self._write_fan_out(planned, now))
            if count is not None:
                log.info("outage notice %s: %d customers to tell", notice_id, count)
                done += 1
        return done

    @staticmethod
    def _write_fan_out(planned: fanout.Plan, now: datetime) -> Callable[[Session], int | None]:
        """The deliveries of a planned fan-out, in a transaction of their own: the recipients
        were read in another, so the write lock is held only while they are written."""
        return lambda session: fanout.write(session, planned, now=now)

    async def _work_channel(self, channel: str, quiet: bool) -> int:
        if self._stop.is_set():
            return 0
        now = self._clock()
        pace = self._policy.pace(channel)

        def claim(session: Session) -> list[Claimed]:
            return queue.claim(
                session, channel, token=self._token, now=now, limit=self._policy.batch,
                pace=pace, quiet=quiet,
            )  # fmt: skip

        batch = await self._db(claim)
        results = await asyncio.gather(*(self._deliver(item, pace) for item in batch))
        return sum(results)

    # --- one delivery ---------------------------------------------------------------------

    async def _admit(self, channel: str, per_second: float) -> None:
        """At most `per_second` sends of the channel in any second from this gateway, however
        late the event loop woke the waiting sends (the slots keep the pace between
        gateways; this keeps a catching-up burst under the channel's limit)."""
        lock = self._admission.setdefault(channel, asyncio.Lock())
        recent = self._recent.setdefault(channel, deque())
        allowed = max(1, int(per_second))
        async with lock:
            while True:
                now = time.monotonic()
                while recent and now - recent[0] >= 1.0:
                    recent.popleft()
                if len(recent) < allowed:
                    break
                await asyncio.sleep(1.0 - (now - recent[0]))
            recent.append(now)

    async def _wait_turn(self, item: Claimed, per_chat: float) -> None:
        """Until the item's slot, the channel's pause and the chat's spacing allow it."""
        slot = (item.slot - self._clock()).total_seconds()
        ready = time.monotonic() + max(0.0, slot)
        ready = max(ready, self._paused.get(item.channel, 0.0))
        last = self._last_sent.get(item.conversation_id)
        if last is not None and per_chat:
            ready = max(ready, last + per_chat)
        delay = ready - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    def _reply(self, item: Claimed) -> Reply:
        if not item.subscribed:
            return Reply(text=item.text)
        label = self._config.texts.unsubscribe_button
        title = label.en if item.language == "en" else label.zh
        button = Button(title, subscriptions.payload(subscriptions.UNSUBSCRIBE))
        return Reply(text=item.text, buttons=(button,))

    async def _deliver(self, item: Claimed, pace: ChannelPace) -> int:
        await self._wait_turn(item, pace.per_chat_seconds)
        if self._stop.is_set():
            return 0  # given back by stop()
        await self._admit(item.channel, pace.per_second)

        async def sent(status: str) -> None:
            self._remember(item.conversation_id)
            state = DeliveryState.SENT if status == "sent" else DeliveryState.STORED
            await self._finish(item, state)

        async with self._in_flight:
            try:
                await self._router.announce(item.conversation_id, [self._reply(item)], sent)
            except NotNow as exc:
                return await self._hold(item, exc)
            except SendLater as exc:
                return await self._later(item, exc.retry_after, f"rate limited: {exc}")
            except RecipientGone as exc:
                return await self._gone(item, str(exc))
            except ConnectionError as exc:
                wait = NOT_CONNECTED_WAIT.total_seconds()
                return await self._later(item, wait, f"not connected: {exc}")
            except Exception as exc:
                log.exception("outage notice delivery %s failed", item.id)
                wait = FAILURE_WAIT.total_seconds() * item.attempts
                return await self._later(item, wait, f"{type(exc).__name__}: {exc}")
        return 1

    def _remember(self, conversation_id: str) -> None:
        self._last_sent[conversation_id] = time.monotonic()
        self._last_sent.move_to_end(conversation_id)
        while len(self._last_sent) > _CHATS_REMEMBERED:
            self._last_sent.popitem(last=False)

    async def _finish(self, item: Claimed, state: str) -> None:
        now = self._clock()

        def work(session: Session) -> bool:
            return queue.finish(session, item.id, self._token, state, now=now)

        if not await self._db(work):
            log.warning("outage notice delivery %s: its claim was lost meanwhile", item.id)

    async def _later(self, item: Claimed, seconds: float, error: str) -> int:
        now = self._clock()
        if error.startswith("rate limited"):
            self._paused[item.channel] = max(
                self._paused.get(item.channel, 0.0), time.monotonic() + seconds
            )

        def work(session: Session) -> str:
            return queue.later(
                session, item.id, self._token, now=now, wait=timedelta(seconds=seconds),
                channel=item.channel, give_up_after=self._policy.max_attempts, error=error,
            )  # fmt: skip

        state = await self._db(work)
        log.info("outage notice delivery %s: %s (%s)", item.id, error, state or "claim lost")
        return 1 if state == DeliveryState.FAILED else 0

    async def _hold(self, item: Claimed, refused: NotNow) -> int:
        """The channel cannot reach this customer now: their notice waits, the channel does
        not (no pause, the pace untouched)."""
        now = self._clock()
        held = self._policy.held
        wait = held.retry if refused.retry_after is None else timedelta(seconds=refused.retry_after)

        def work(session: Session) -> str:
            return queue.hold(
                session, item.id, self._token, now=now, retry_at=now + wait,
                give_up_at=item.written_at + held.give_up, reason=refused.reason,
            )  # fmt: skip

        state = await self._db(work)
        log.info(
            "outage notice delivery %s: not deliverable now (%s): %s",
            item.id,
            refused,
            state or "claim lost",
        )
        return 1 if state == DeliveryState.UNDELIVERABLE else 0

    async def _gone(self, item: Claimed, error: str) -> int:
        """The customer blocked the bot: no more notices there, and it is recorded."""
        now = self._clock()

        def work(session: Session) -> int:
            queue.finish(session, item.id, self._token, DeliveryState.BLOCKED, now=now, error=error)
            return subscriptions.end_for_conversation(
                session, item.conversation_id, SubscriptionEnd.BLOCKED, now=now
            )

        ended = await self._db(work)
        log.info(
            "outage notice delivery %s: blocked by the customer, %d subscriptions end",
            item.id,
            ended,
        )
        return 1
