"""Blue/green: the gateway follows the Rasa server that answers customers.

With RASA_STANDBY_URL set there are two Rasa servers. A deployment (nlu/loop.py) loads the new
model into the one that is not serving, then points the database's rasa_serving row at it. The
gateway process that deployed switches at once (NluLoop.on_switch); every other gateway process
reads the row every few seconds here. A row naming neither configured server is ignored (a
stale row of another setup), as is a database error (the next pass tries again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_client import RasaClient
from store.db import unit_of_work
from store.services import rasa_serving

log = logging.getLogger(__name__)


class ServingFollower:
    def __init__(
        self,
        rasa: RasaClient,
        factory: sessionmaker[Session],
        servers: tuple[str, str],
        *,
        interval: float = 2.0,
    ) -> None:
        self._rasa = rasa
        self._factory = factory
        self._servers = {s.rstrip("/") for s in servers}
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> str | None:
        with unit_of_work(self._factory) as session:
            return rasa_serving.serving_url(session)

    async def sync(self) -> None:
        """Switch the client to the row's server (when it is one of the pair)."""
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
