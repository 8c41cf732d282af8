"""Whether Rasa and the action server are up, as the router, retry worker and /health see it.

Once a turn fails the router stops calling Rasa (each call would make the customer wait for
the full timeout) and answers '系统繁忙' at once; the retry worker probes with backoff and,
when both servers answer, answers the kept messages: the first turn Rasa runs clears the flag
(before its reply is stored, so a customer who reads it and writes again is not kept). With
several Rasa workers, one worker's failure only takes that worker out of the pool
(bot/rasa_pool.py): the flag is raised when no worker is left, or when what every worker
shares failed (the action server, the lock or tracker store: `RasaTurnFailed`).

With several gateway replicas (GATEWAY_SHARED) each has its own flag and retry worker, and any
retry worker answers every replica's kept messages. The first turn Rasa answers while the flag is
up is told to the other replicas (`elsewhere`, bot/replicas/rasa_back.py) before its reply is
stored, and a replica holding messages answers a new one itself once Rasa answered anywhere
since it began holding: no customer gets '系统繁忙' again because the replica they reached had
not yet probed, after their kept message was answered by another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp

from bot.rasa_client import probe
from bot.rasa_errors import RasaTurnFailed
from bot.rasa_pool import RasaPool

log = logging.getLogger(__name__)


class Elsewhere(Protocol):
    """The other gateway replicas, as the flag needs them (bot/replicas/rasa_back.py)."""

    async def tell(self) -> None: ...

    async def answered_since(self, since: float) -> bool: ...


class Backends:
    def __init__(
        self,
        rasa: RasaPool,
        session: aiohttp.ClientSession,
        action_server_url: str,
        *,
        probe_timeout: float = 3.0,
        actions_cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rasa = rasa
        self._session = session
        self._actions_health = f"{action_server_url.rstrip('/')}/health"
        self._timeout = aiohttp.ClientTimeout(total=probe_timeout)
        self._cache_seconds = actions_cache_seconds
        self._clock = clock
        self._actions_checked: tuple[float, bool] | None = None
        self.down = False
        """True from a failed turn until Rasa runs a turn again (the retry worker's, or
        another replica's)."""
        self.elsewhere: Elsewhere | None = None
        """The other gateway replicas (GATEWAY_SHARED): told when Rasa answers again here,
        asked whether it did there."""
        self._down_since: float | None = None

    def mark_down(self, cause: Exception | None = None) -> None:
        """A turn failed (`cause`): every conversation waits for the retry worker, unless only
        one worker failed and another one is up."""
        if cause is None or isinstance(cause, RasaTurnFailed) or not self.rasa.any_up():
            if not self.down:
                self._down_since = time.time()
            self.down = True

    def mark_up(self) -> None:
        self.down = False

    async def answered(self, *, kept: bool = False) -> None:
        """Rasa ran a turn of this process. While the flag is up that is the retry worker's
        first success: Rasa and what it shares work again, so new messages are no longer
        kept (each conversation's kept ones still go first: its turn drains them under its
        lock), and the other replicas are told. A `kept` message answered here tells them
        even where this replica's flag is not up: the replica that kept it may still hold
        new messages (the fault suite's Redis outage: one replica kept a message, the other
        answered it, and the first answered '系统繁忙' until its own next probe)."""
        if not self.down:
            if kept and self.elsewhere is not None:
                await self.elsewhere.tell()
            return
        log.info("Rasa answered again: new messages are no longer kept")
        self.mark_up()
        if self.elsewhere is not None:
            await self.elsewhere.tell()

    async def holding(self) -> bool:
        """Whether a new message is kept for the retry worker: the flag is up, and no other
        replica has seen Rasa answer since it went up (then it is cleared here too)."""
        if not self.down:
            return False
        since = self._down_since
        if self.elsewhere is None or since is None:
            return True
        if await self.elsewhere.answered_since(since):
            self.back_elsewhere()
            return False
        return True

    def back_elsewhere(self) -> bool:
        """Another replica saw Rasa answer again (its key, or its news on the bus): the flag
        is cleared here too. Whether it was up."""
        if not self.down:
            return False
        log.info("another gateway replica saw Rasa answer again: messages no longer kept")
        self.mark_up()
        return True

    async def rasa_up(self) -> bool:
        """Whether a Rasa worker answers (each one probed now)."""
        return await self.rasa.status()

    async def actions_up(self, *, fresh: bool = False) -> bool:
        """The action server's health, probed at most every few seconds unless `fresh`."""
        now = self._clock()
        cached = self._actions_checked
        if not fresh and cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        healthy = await probe(self._session, self._actions_health, self._timeout)
        self._actions_checked = (self._clock(), healthy)
        return healthy

    async def both_up(self) -> bool:
        return await self.rasa_up() and await self.actions_up(fresh=True)
