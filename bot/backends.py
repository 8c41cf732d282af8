"""Whether Rasa and the action server are up, as the router, retry worker and /health see it.

Once a turn fails the router stops calling Rasa (each call would make the customer wait for
the full timeout) and answers '系统繁忙' at once; the retry worker probes with backoff and
clears the flag when both servers answer again. With several Rasa workers, one worker's
failure only takes that worker out of the pool (bot/rasa_pool.py): the flag is raised when no
worker is left, or when what every worker shares failed (the action server, the lock or
tracker store: `RasaTurnFailed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from bot.rasa_client import probe
from bot.rasa_errors import RasaTurnFailed
from bot.rasa_pool import RasaPool


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
        """True from a failed turn until the retry worker has seen both servers answer."""

    def mark_down(self, cause: Exception | None = None) -> None:
        """A turn failed (`cause`): every conversation waits for the retry worker, unless only
        one worker failed and another one is up."""
        if cause is None or isinstance(cause, RasaTurnFailed) or not self.rasa.any_up():
            self.down = True

    def mark_up(self) -> None:
        self.down = False

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
