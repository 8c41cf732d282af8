"""The console's password checks run on their own few threads, never on the shared pool.

A login checks an argon2id hash: about 150 ms of CPU and 64 MiB of memory. On asyncio's
default executor, which every database call of the customers' turns also uses, a flood of
logins would fill its threads and customers would wait behind the hashes. Here the logins get
`threads` threads of their own and at most `queue` more may wait; beyond that a login is
refused at once (`PoolFull`, the caller answers 429) instead of piling up memory and delay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class PoolFull(Exception):
    """Every thread is busy and the queue is full: try again in a moment."""


class HashPool:
    def __init__(self, threads: int, queue: int) -> None:
        if threads < 1 or queue < 0:
            raise ValueError("threads must be at least 1, queue at least 0")
        self.threads = threads
        self.queue = queue
        self._executor: ThreadPoolExecutor | None = None
        self._taken = 0

    @property
    def busy(self) -> int:
        """Work submitted and not finished (running or waiting)."""
        return self._taken

    def stats(self) -> dict[str, int]:
        return {
            "running": min(self._taken, self.threads),
            "waiting": max(0, self._taken - self.threads),
        }

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:  # made on first use: nothing at import or set-up time
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="console-hash")
        return self._executor

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` on the pool's threads; PoolFull when `threads + queue` are taken. The slot
        is freed when the work ends, not when the caller stops waiting (a client that hangs up
        does not free a thread that is still hashing)."""
        if self._taken >= self.threads + self.queue:
            raise PoolFull()
        future: Future[T] = self._pool().submit(work)
        self._taken += 1
        loop = asyncio.get_running_loop()

        def done(_: Future[T]) -> None:  # in the worker thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody counts now
                loop.call_soon_threadsafe(self._release)

        future.add_done_callback(done)
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        self._taken -= 1

    def close(self) -> None:
        """Stop taking work; what waits is cancelled, what runs finishes in its thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
