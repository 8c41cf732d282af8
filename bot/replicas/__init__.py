"""Several gateway replicas behind one address (GATEWAY_SHARED=1, docs/scaling.md): what they
share through Redis besides the database.

- `locks.py`: a conversation's lock across replicas: one turn at a time, in arrival order;
- `bus.py`: the console's live events and web chat pushes reach the replica that has the
  socket;
- `lease.py`: Telegram's long polling, the notifier and the scheduled jobs run in one replica;
- `ratelimit.py`: the rate limits (the channels', the console login's) count every replica's
  requests;
- `rasa_back.py`: Rasa answering again after an outage, seen by one replica, ends every
  replica's '系统繁忙'.

Without GATEWAY_SHARED nothing here runs: one gateway process keeps its locks, events and rate
limits in memory, as it always did. The outage-notice queue and the WeChat access token need
nothing of this: they are shared through the database already.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from bot.replicas.bus import Bus
from bot.replicas.lease import Lease
from bot.replicas.locks import SharedLocks
from bot.replicas.rasa_back import RasaBack
from bot.replicas.ratelimit import SharedLimits
from bot.settings import GatewaySettings

__all__ = ["Replicas"]

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 5.0
"""A Redis that does not answer within this is treated as away (the locks and the rate limits
fall back to this replica's own)."""


class Replicas:
    def __init__(self, settings: GatewaySettings) -> None:
        if not settings.redis_url:
            raise ValueError("GATEWAY_SHARED needs REDIS_URL")
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._prefix = settings.shared_prefix
        self._lease_seconds = settings.lease_seconds
        self.redis: Redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        # the bus listens on a connection of its own without a read timeout (it waits for news)
        self._listener: Redis = Redis.from_url(
            settings.redis_url, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS
        )
        self.locks = SharedLocks(self.redis, self._prefix, settings.lock_seconds)
        self.bus = Bus(self._listener, self._prefix, self.replica)
        self.limits = SharedLimits(self.redis, self._prefix)
        self.rasa_back = RasaBack(self.redis, self._prefix, self.bus)
        self._leases: list[Lease] = []

    def in_one_replica(
        self, name: str, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> Lease:
        """A job that runs in one replica at a time (started now: asks for its lease)."""
        lease = Lease(
            self.redis, f"{self._prefix}:lease:{name}", self._lease_seconds, name, start, stop
        )
        self._leases.append(lease)
        lease.start()
        return lease

    async def start(self) -> None:
        await self.bus.start()
        log.info("gateway replica %s: sharing conversations through Redis", self.replica)

    async def stop(self) -> None:
        """Give the leases back (another replica takes the jobs), stop listening."""
        for lease in reversed(self._leases):
            await lease.stop()
        self._leases = []
        await self.bus.stop()
        await self.redis.aclose()
        await self._listener.aclose()
