"""Rasa answering again after an outage, told to every gateway replica (GATEWAY_SHARED).

Each replica keeps new messages for its retry worker ('系统繁忙') from a failed turn until it
sees the servers back (bot/backends.py), and any replica's retry worker answers every replica's
kept messages. So the replica whose turn Rasa answers first after an outage tells the others,
before that turn's reply is stored, in two ways:

- a key in Redis with the time it happened: a replica still holding looks at it when a message
  arrives, and answers the message itself when Rasa answered anywhere since it began holding
  (no race with a customer who reads the kept message's reply and writes again at once);
- news on the bus (`rasa_back`, bus.py): the replicas listening stop holding at once and wake
  their retry workers (/health's `holding` clears) without waiting for a message.

The times are the replicas' clocks (a skew only makes a replica try a turn early, which fails
and holds again, or wait for its own probe, as before). Redis away: neither works, and each
replica waits for its own probe, as a single gateway does.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.replicas.bus import Bus

log = logging.getLogger(__name__)

KEY_SECONDS: Final = 86_400
"""The key outlives any outage a replica could still be holding for."""


class RasaBack:
    def __init__(self, redis: Redis, prefix: str, bus: Bus) -> None:
        self._redis = redis
        self._key = f"{prefix}:rasa:answered"
        self._bus = bus

    async def tell(self) -> None:
        """Rasa answered a turn of this replica while it was holding messages."""
        try:
            await self._redis.set(self._key, repr(time.time()), ex=KEY_SECONDS)
        except (RedisError, OSError) as exc:
            log.warning("replicas: Rasa answering again was not recorded (%s)", exc)
        self._bus.rasa_back()

    async def answered_since(self, since: float) -> bool:
        """Whether some replica saw Rasa answer a turn after `since` (time.time())."""
        try:
            value = await self._redis.get(self._key)
        except (RedisError, OSError):
            return False
        try:
            return value is not None and float(value) > since
        except ValueError:
            return False
