"""The retry worker: answers pending messages once Rasa is back, through their channels.

It sleeps until the router keeps a message pending (or a slow poll finds one another process
or an earlier run left), then probes Rasa and the action server with exponential backoff and,
when both answer, lets the router process the pending messages conversation by conversation,
oldest first. Each message is claimed in the database before it is processed, so its replies
are produced and delivered once, even with several gateway processes.

While they are down the probes back off (up to `max_backoff`), but a message that arrives
meanwhile (kept with '系统繁忙') brings the next probe forward to a second after the last one:
a customer who writes just after Rasa is back is answered a moment later, not after the rest
of a long back-off.

Every pass first sweeps for work nobody does (`Router.sweep`): messages stuck half-way in a
turn for longer than `stale_after` become pending, and replies stored but never sent (a crash
between the two) are sent; while a channel cannot take them yet (Telegram still connecting
after a restart) the worker comes back with the same backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from bot.backends import Backends
from bot.router import Router

log = logging.getLogger(__name__)


class RetryWorker:
    #: Seconds between two looks for pending messages while nothing seems to be wrong.
    idle_poll = 30.0

    def __init__(
        self,
        router: Router,
        backends: Backends,
        *,
        max_backoff: float,
        initial_backoff: float = 1.0,
        stale_after: timedelta = timedelta(minutes=2),
    ) -> None:
        """`stale_after`: how long a message may stay in the middle of its turn before the
        sweep takes it for abandoned (longer than any turn: Rasa's timeout and more)."""
        self._router = router
        self._backends = backends
        self._stale_after = stale_after
        self._max = max_backoff
        self._initial = min(initial_backoff, max_backoff)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-retry-worker")

    async def stop(self, grace: float) -> None:
        """Finish the message being processed (at most `grace` seconds), then stop."""
        self._stop.set()
        self._router.pending_added.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait([self._task], timeout=grace)
        if not done:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sleep(self, seconds: float, *, wake_on_pending: bool) -> None:
        waits = [asyncio.ensure_future(self._stop.wait())]
        if wake_on_pending:
            waits.append(asyncio.ensure_future(self._router.pending_added.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _back_off(self, delay: float) -> None:
        """The wait before the next probe of servers that were down: `delay`, or a message
        kept meanwhile brings it forward (never sooner than the initial back-off)."""
        started = time.monotonic()
        await self._sleep(min(self._initial, delay), wake_on_pending=False)
        rest = delay - (time.monotonic() - started)
        if rest > 0 and not self._stop.is_set():
            await self._sleep(rest, wake_on_pending=True)

    async def _run(self) -> None:
        delay = self._initial
        while not self._stop.is_set():
            try:
                self._router.pending_added.clear()
                swept = await self._router.sweep(self._stale_after)
                if not self._backends.down and await self._router.count_pending() == 0:
                    if swept:
                        delay = self._initial
                        await self._sleep(self.idle_poll, wake_on_pending=True)
                    else:  # replies wait for a channel that is not ready yet
                        await self._sleep(delay, wake_on_pending=False)
                        delay = min(delay * 2, self._max)
                    continue
                if not await self._backends.both_up():
                    self._backends.mark_down()
                    log.info("Rasa or the action server still down; next probe in %.1f s", delay)
                    await self._back_off(delay)
                    delay = min(delay * 2, self._max)
                    continue
                if await self._router.drain_all():
                    if self._backends.down:
                        log.info("Rasa is back: pending messages answered")
                    self._backends.mark_up()
                    delay = self._initial
                else:  # answered the probe but not the turn (e.g. too slow): back off too
                    await self._back_off(delay)
                    delay = min(delay * 2, self._max)
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker must outlive a database hiccup
                log.exception("retry worker pass failed")
                await self._sleep(delay, wake_on_pending=False)
                delay = min(delay * 2, self._max)
