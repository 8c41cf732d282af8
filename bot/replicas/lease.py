"""Work that runs in one gateway replica at a time: Telegram's long polling, the notifier, the
scheduled jobs (the handoff watcher, the evaluation reports).

Each such job has a lease in Redis (a key naming its holder, living `ttl` seconds). Every
replica asks for it every third of `ttl`; the one that gets it starts the job and renews the
lease on each of those asks. The holder that stops (shutdown) stops the job and gives the lease
back: another replica takes the job at its next ask. A holder that dies stops renewing: the lease
runs out and another replica takes over within `ttl` plus a third of it. A holder that cannot
renew (Redis away, or the lease was lost) stops the job once the lease would have run out, so
two replicas never run it for longer than that.

An ask under way is never cut off: a job's start or stop may be a pass on the database (the
notifier's cursors), whose session must be closed before the gateway disposes of its engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.replicas.locks import RELEASE, RENEW

log = logging.getLogger(__name__)

Start = Callable[[], Awaitable[None]]
Stop = Callable[[], Awaitable[None]]


class Lease:
    """One job's lease: `start` runs when this replica gets it, `stop` when it ends."""

    def __init__(
        self, redis: Redis, key: str, ttl: float, name: str, start: Start, stop: Stop
    ) -> None:
        self._redis = redis
        self.key = key
        self._ttl_ms = max(int(ttl * 1000), 300)
        self.name = name
        self._start = start
        self._stop = stop
        self._token = uuid.uuid4().hex
        self._renew: Any = redis.register_script(RENEW)
        self._give_back: Any = redis.register_script(RELEASE)
        self.held = False
        self._valid_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"lease-{self.name}")

    async def stop(self) -> None:
        """Stop asking once the ask under way (if any) is over; stop the job and give the
        lease back if this replica has it."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.held:
            await self._end("shutting down")
            with contextlib.suppress(RedisError, OSError):
                await self._give_back(keys=[self.key], args=[self._token])

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._ttl_ms / 3000)

    async def step(self) -> None:
        """One ask: take the lease, or renew the one held (the job stops when it is lost)."""
        try:
            if self.held:
                ok = bool(await self._renew(keys=[self.key], args=[self._token, self._ttl_ms]))
            else:
                ok = bool(await self._redis.set(self.key, self._token, nx=True, px=self._ttl_ms))
        except (RedisError, OSError) as exc:
            if self.held and time.monotonic() >= self._valid_until:
                await self._end(f"Redis unreachable: {exc}")
            elif not self.held:
                log.debug("%s: lease not asked for (%s)", self.name, exc)
            return
        if ok:
            self._valid_until = time.monotonic() + self._ttl_ms / 1000
            if not self.held:
                self.held = True
                log.info("%s: runs in this replica (lease %s)", self.name, self.key)
                try:
                    await self._start()
                except Exception:  # asked again at the next step: it is renewed, not restarted
                    log.exception("%s: could not start", self.name)
        elif self.held:
            await self._end("the lease ran out and went to another replica")

    async def _end(self, why: str) -> None:
        self.held = False
        log.info("%s: stops in this replica (%s)", self.name, why)
        try:
            await self._stop()
        except Exception:
            log.exception("%s: stopping failed", self.name)
