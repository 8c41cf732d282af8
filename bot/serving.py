"""Blue/green: the gateway follows the Rasa pool that answers customers; and the pool's
wiring (`RasaWorkers`: the workers, their discovery, the follower), started with the core.

With RASA_STANDBY_URL set there are two pools of Rasa workers (one worker each unless
RASA_WORKERS says more, docs/scaling.md), each named by its first worker's URL. A deployment
(nlu/loop.py) loads the new model into every worker of the pool that is not serving, then
points the database's rasa_serving row at that pool. The gateway process that deployed
switches at once (NluLoop.on_switch); every other gateway process reads the row every few
seconds here. A row naming neither configured pool is ignored (a stale row of another setup),
as is a database error (the next pass tries again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import aiohttp
from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_discovery import WorkerDiscovery
from bot.rasa_pool import RasaPool
from bot.settings import GatewaySettings
from store.db import unit_of_work
from store.services import rasa_serving

log = logging.getLogger(__name__)


class Switchable(Protocol):
    """A Rasa client that can be pointed at another server or pool (RasaClient, RasaPool)."""

    def switch_to(self, base_url: str) -> None: ...


class ServingFollower:
    def __init__(
        self,
        rasa: Switchable,
        factory: sessionmaker[Session],
        servers: tuple[str, ...],
        *,
        interval: float = 2.0,
    ) -> None:
        """`servers`: the names of the pools (their first worker's URL)."""
        self._rasa = rasa
        self._factory = factory
        self._servers = {s.rstrip("/") for s in servers}
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> str | None:
        with unit_of_work(self._factory) as session:
            return rasa_serving.serving_url(session)

    async def sync(self) -> None:
        """Switch the client to the row's pool (when it is one of the pair)."""
        try:
            url = await asyncio.to_thread(self._read)
        except Exception as exc:  # the database is down for a moment: keep the current server
            log.info("Rasa serving row not read (%s)", exc.__class__.__name__)
            return
        if url is not None and url.rstrip("/") in self._servers:
            self._rasa.switch_to(url)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.sync()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class RasaWorkers:
    """The gateway's Rasa pool with what keeps it current: the blue/green follower (with a
    standby pool) and the discovery of workers by name (RASA_DISCOVERY=dns)."""

    def __init__(
        self,
        settings: GatewaySettings,
        session: aiohttp.ClientSession,
        factory: sessionmaker[Session],
    ) -> None:
        pools = settings.rasa_pools
        self.pool = RasaPool(
            session, pools, token=settings.rasa_token, timeout=settings.rasa_timeout
        )
        self._follower = (
            ServingFollower(self.pool, factory, self.pool.names) if len(pools) > 1 else None
        )
        self._discovery = WorkerDiscovery(self.pool, pools) if settings.rasa_discovery else None

    async def prepare(self) -> None:
        """Before the first message: the workers found, the serving pool read."""
        if self._discovery is not None:
            await self._discovery.refresh()
        if self._follower is not None:
            await self._follower.sync()

    def start(self) -> None:
        for part in (self._follower, self._discovery):
            if part is not None:
                part.start()

    async def stop(self) -> None:
        for part in (self._follower, self._discovery):
            if part is not None:
                await part.stop()
        await self.pool.close()
