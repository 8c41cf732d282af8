"""A conversation's lock shared by every gateway replica (Redis), granted in arrival order.

Each replica still queues its own waiters on the conversation's asyncio lock (bot/ordering.py);
the one at the head of that queue then waits here, with the conversation's other replicas'
heads. The waiters of a conversation form a queue in Redis ordered by `order` (a customer
message's id: the order messages were stored in, which is the order they arrived in; 0 for the
gateway's own deliveries, which go first); the lock goes to the lowest waiter once it is free.

Nothing stays locked when a replica dies: the lock lives `lock_ttl` seconds and is renewed by
its holder every third of that, and a waiter that stops asking (its replica died) leaves the
queue after `WAIT_TTL_MS`. Redis's own clock decides both, never a replica's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WAIT_TTL_MS: Final = 5_000
"""A waiter that has not asked again for this long (its replica died) leaves the queue."""
POLL_SECONDS: Final = (0.005, 0.01, 0.02, 0.05)
"""How often a waiter asks again (the last one repeats): well under WAIT_TTL_MS."""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
_ACQUIRE: Final = (
    _NOW
    + """
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, member in ipairs(gone) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZRANGE', KEYS[2], 0, 0)[1] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""
)
# a key held by a token (a conversation's lock, a lease): renewed, or given back, by its holder
RENEW: Final = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
_LEAVE: Final = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Held:
    """One holding of a conversation's lock (None-free: a lock Redis could not give is not
    held, see `SharedLocks.acquire`)."""

    key: str
    token: str
    renewal: asyncio.Task[None]


class SharedLocks:
    def __init__(self, redis: Redis, prefix: str, lock_ttl: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = max(int(lock_ttl * 1000), 1000)
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(RENEW)
        self._release: Any = redis.register_script(RELEASE)
        self._leave: Any = redis.register_script(_LEAVE)

    def _keys(self, conversation_id: str) -> list[str]:
        base = f"{self._prefix}:conv:{conversation_id}"
        return [f"{base}:lock", f"{base}:queue", f"{base}:alive"]

    async def acquire(self, conversation_id: str, order: int) -> Held | None:
        """Wait for the conversation's lock, in `order` among the replicas' waiters. None when
        Redis cannot be reached: the caller goes on under its own process's lock (one replica
        still answers each conversation in order; logged)."""
        keys = self._keys(conversation_id)
        token = uuid.uuid4().hex
        attempt = 0
        try:
            while not await self._acquire(
                keys=keys, args=[token, order, self._ttl_ms, WAIT_TTL_MS]
            ):
                await asyncio.sleep(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)])
                attempt += 1
        except asyncio.CancelledError:
            with contextlib.suppress(RedisError, OSError):
                await asyncio.shield(self._leave(keys=keys[1:], args=[token]))
            raise
        except (RedisError, OSError) as exc:
            log.warning(
                "%s: Redis unreachable (%s): the conversation's lock is this replica's only",
                conversation_id,
                exc,
            )
            return None
        renewal = asyncio.create_task(self._keep(conversation_id, keys[0], token))
        return Held(keys[0], token, renewal)

    async def _keep(self, conversation_id: str, key: str, token: str) -> None:
        """Renew the lock every third of its lifetime while it is held."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self._renew(keys=[key], args=[token, self._ttl_ms]):
                    log.error("%s: the conversation's lock expired while held", conversation_id)
                    return
            except (RedisError, OSError) as exc:
                log.warning("%s: the lock could not be renewed (%s)", conversation_id, exc)

    async def release(self, held: Held) -> None:
        held.renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await held.renewal
        try:
            await self._release(keys=[held.key], args=[held.token])
        except (RedisError, OSError) as exc:  # it expires by itself
            log.warning("the conversation's lock could not be released (%s)", exc)


class SharedLock:
    """`async with`: the conversation's lock of this process (an asyncio lock: waiters in
    arrival order), then the replicas' (`SharedLocks`)."""

    def __init__(
        self, local: asyncio.Lock, shared: SharedLocks, conversation_id: str, order: int
    ) -> None:
        self._local = local
        self._shared = shared
        self._conversation_id = conversation_id
        self._order = order
        self._held: Held | None = None

    def locked(self) -> bool:
        return self._local.locked()

    async def __aenter__(self) -> None:
        await self._local.acquire()
        try:
            self._held = await self._shared.acquire(self._conversation_id, self._order)
        except BaseException:
            self._local.release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        held, self._held = self._held, None
        try:
            if held is not None:
                await asyncio.shield(self._shared.release(held))
        finally:
            self._local.release()
