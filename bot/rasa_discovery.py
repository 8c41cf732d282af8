"""Rasa workers found by name (RASA_DISCOVERY=dns): Docker Compose's `--scale rasa=N`.

Docker's DNS answers a scaled service's name with the address of every one of its containers.
With discovery on, each URL of RASA_URL (and RASA_STANDBY_URL) stands for the workers at every
address its host name resolves to, on the URL's port: `http://rasa:5005` with three containers
is three workers. The names are looked up when the gateway starts and every `interval`
seconds, so containers added or removed by `docker compose up --scale` are followed; a lookup
that fails keeps the workers found last (the pool's health skips a container that is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from bot.rasa_pool import RasaPool

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""A host name and port → the addresses it resolves to."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (the system's resolver: Docker's DNS inside a container)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def at_address(url: str, address: str) -> str:
    """`url` with its host replaced by `address` (an IPv6 address in brackets)."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


class WorkerDiscovery:
    def __init__(
        self,
        pool: RasaPool,
        pools: Sequence[Sequence[str]],
        *,
        resolver: Resolver = resolve,
        interval: float = 10.0,
    ) -> None:
        """`pools`: the URLs as configured (each pool named by its first URL)."""
        self._pool = pool
        self._pools = [tuple(urls) for urls in pools if urls]
        self._resolver = resolver
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def _expand(self, url: str) -> list[str]:
        host = urlsplit(url).hostname or ""
        try:
            addresses = await self._resolver(host, _port(url))
        except OSError as exc:
            log.info("Rasa workers: %s not resolved (%s); keeping the last ones", host, exc)
            return []
        return [at_address(url, address) for address in addresses]

    async def refresh(self) -> None:
        """Look the names up once; each pool gets the workers found (none found: unchanged)."""
        for urls in self._pools:
            found: list[str] = []
            for url in urls:
                found += await self._expand(url)
            if found:
                self._pool.set_members(urls[0], found)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rasa-worker-discovery")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.refresh()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
