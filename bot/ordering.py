"""One conversation's messages one at a time, in the order they arrived; and what the router has
running (turns in flight, background tasks), so that it can stop cleanly.

- the conversation's *lock* is held for a whole turn (and for deliveries into it), so replies
  never interleave;
- its *admission* lock is held only while a message is stored, so ids follow the order messages
  arrived in, and so do their turns (each queues for the conversation's lock at once);
- `live`: the customer messages this process is answering or about to (stored, waiting for
  their turn): the sweep for stuck messages leaves them alone.

With several gateway replicas (GATEWAY_SHARED) the conversation's lock is also the replicas'
(bot/replicas/locks.py): this process's waiters queue on its asyncio lock, the head of that
queue waits in Redis with the other replicas' heads, each message in the order it was stored.
Every message is then stored before it waits (`busy` is always true), so that it has that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Protocol

from bot.replicas.locks import SharedLock, SharedLocks

log = logging.getLogger(__name__)


class ConversationLock(Protocol):
    """What `Ordering.lock` gives: `async with` it; `locked()` while a turn holds it here."""

    def locked(self) -> bool: ...

    async def __aenter__(self) -> None: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Ordering:
    def __init__(self, shared: SharedLocks | None = None) -> None:
        self._shared = shared
        """The replicas' locks (GATEWAY_SHARED); None: this process's locks only."""
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._admissions: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._busy: dict[str, int] = {}
        """How many messages of each conversation are inside `handle` (answered or waiting)."""
        self.live: set[int] = set()
        """Customer messages this process is answering or about to (stored, waiting for their
        turn): the sweep for stuck messages leaves them alone."""
        self._inflight: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._background: set[asyncio.Task[None]] = set()

    def lock(self, conversation_id: str, order: int = 0) -> ConversationLock:
        """Held while one of the conversation's messages has its turn (or a delivery).
        `order`: the message's id (the replicas' waiters go in that order; 0: first)."""
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        if self._shared is None:
            return lock
        return SharedLock(lock, self._shared, conversation_id, order)

    def admission(self, conversation_id: str) -> asyncio.Lock:
        """Held while a message of the conversation is stored: ids follow the order messages
        arrived in, and so do their turns (each queues for the conversation's lock at once)."""
        lock = self._admissions.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._admissions[conversation_id] = lock
        return lock

    # --- messages inside `handle` ---------------------------------------------------------

    def enter(self, conversation_id: str) -> asyncio.Task[Any] | None:
        """A message of the conversation enters `handle` (its task, to pass to `leave`)."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        self._idle.clear()
        self._busy[conversation_id] = self._busy.get(conversation_id, 0) + 1
        return task

    def busy(self, conversation_id: str) -> bool:
        """Whether another message of the conversation is inside `handle` or has its turn
        (always, with the replicas' locks: another replica's turn is not seen from here)."""
        if self._shared is not None:
            return True
        return self._busy[conversation_id] > 1 or self.lock(conversation_id).locked()

    def leave(self, conversation_id: str, task: asyncio.Task[Any] | None) -> None:
        self._busy[conversation_id] -= 1
        if not self._busy[conversation_id]:
            del self._busy[conversation_id]
        if task is not None:
            self._inflight.discard(task)
        if not self._inflight:
            self._idle.set()

    # --- background work ------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Work off the reply's path (its failure is logged)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def close(self, grace: float) -> None:
        """Let the messages being handled finish (at most `grace` seconds; the rest are
        cancelled), then the background work (what is left of `grace`, at least 0.1 s)."""
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
