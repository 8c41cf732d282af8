"""Rate limits counted in Redis, shared by every gateway replica (GATEWAY_SHARED): with N
replicas a client still gets its limit once, not N times.

- `limiter(name, local)`: a token bucket per key (bot/ratelimit.py's: a burst of `count`, then
  one every `seconds / count`; a refused request takes nothing), kept in Redis as the time its
  bucket is full again (GCRA, the same arithmetic). The channels' limits (bot/limits.py) and the
  console login's overall rate;
- `window_wait`, `window_add`, `window_clear`: events within a sliding window (the console
  login's failures per address and username, bot/console/ratelimit.py).

Each step is one Lua script reading Redis's clock (TIME), never a replica's. Keys live under
the replicas' prefix (`<prefix>:limit:<name>:<key>`) and expire once they hold nothing: a full
bucket or a window without events is no key.

Redis away (an error, or no answer within the replicas' socket timeout): each limit falls back
to this replica's own in-memory one, so a limit neither stops the gateway nor lets everybody in;
logged once per outage. While it is away one call a second asks Redis again (the others do not
wait for it); the first answer brings the shared counts back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.ratelimit import Limiter, Rate, RateLimiter, whole_seconds

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_SECONDS: Final = 1.0
"""While Redis is away, how often one call asks it again."""

_NOW_US = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""
# A token bucket as the time it is full again (`tat`, µs): a request is let in while
# `tat - now` leaves a token, i.e. is at most `burst` = (count - 1) × interval; it adds one
# interval. Refused: the µs to wait (at least 1), nothing written.
_TAKE: Final = (
    _NOW_US
    + """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - burst
if wait > 0 then return math.max(1, math.floor(wait + 0.5)) end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil((tat - now) / 1000))
return 0
"""
)
# Events in the last ARGV[1] µs: 0 when fewer than ARGV[2], else the µs until the oldest leaves.
_WINDOW_WAIT: Final = (
    _NOW_US
    + """
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then return 0 end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
return math.max(1, math.floor(oldest + window - now + 0.5))
"""
)
_WINDOW_ADD: Final = (
    _NOW_US
    + """
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return 1
"""
)


class SharedLimits:
    """The rate limits of one replica, counted in Redis (`Replicas.limits`)."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._take: Any = redis.register_script(_TAKE)
        self._window_wait: Any = redis.register_script(_WINDOW_WAIT)
        self._window_add: Any = redis.register_script(_WINDOW_ADD)
        self.away = False
        """Redis did not answer the last ask: the limits are this replica's own meanwhile."""
        self._ask_at = 0.0

    def key(self, name: str, key: str) -> str:
        return f"{self._prefix}:limit:{name}:{key}"

    def limiter(self, name: str, local: RateLimiter) -> Limiter:
        """`local`'s buckets counted in Redis under `name` (`local` while Redis is away)."""
        return local if local.rate is None else SharedRateLimiter(self, name, local)

    async def either(self, shared: Callable[[], Awaitable[T]], local: Callable[[], T]) -> T:
        """`shared()` (Redis), or `local()` when Redis fails or is known to be away."""
        if self.away:
            if self._clock() < self._ask_at:
                return local()
            self._ask_at = self._clock() + self._retry_seconds  # the others: local meanwhile
        try:
            result = await shared()
        except (RedisError, OSError) as exc:
            self._ask_at = self._clock() + self._retry_seconds
            if not self.away:
                self.away = True
                log.warning(
                    "Redis unreachable (%s): rate limits counted by this replica alone until it"
                    " answers",
                    exc,
                )
            return local()
        if self.away:
            self.away = False
            log.warning("Redis answers again: rate limits shared by the replicas again")
        return result

    async def take(self, name: str, key: str, rate: Rate) -> int:
        """A token of `key`'s bucket: 0, or the whole seconds to wait. Raises when Redis fails."""
        interval = rate.seconds * 1_000_000 / rate.count
        wait = await self._take(
            keys=[self.key(name, key)], args=[interval, (rate.count - 1) * interval]
        )
        return whole_seconds(int(wait) / 1_000_000) if wait else 0

    async def window_wait(self, name: str, key: str, count: int, window: float) -> int:
        """0 while fewer than `count` events of `key` are younger than `window` seconds, else
        the whole seconds until the oldest of them is older (rounded up, plus one: what the
        in-memory login limiter says). Raises when Redis fails."""
        wait = await self._window_wait(keys=[self.key(name, key)], args=[window * 1_000_000, count])
        return int(wait) // 1_000_000 + 1 if wait else 0

    async def window_add(self, name: str, key: str, window: float, event: str) -> None:
        """One event (`event`: a unique id) of `key` now; the key lives `window` seconds."""
        await self._window_add(keys=[self.key(name, key)], args=[window * 1_000_000, event])

    async def window_clear(self, name: str, key: str) -> None:
        await self._redis.delete(self.key(name, key))


class SharedRateLimiter:
    """A `Limiter` whose buckets are in Redis; `local` counts while Redis is away."""

    def __init__(self, shared: SharedLimits, name: str, local: RateLimiter) -> None:
        self._shared = shared
        self._name = name
        self._local = local

    @property
    def rate(self) -> Rate | None:
        return self._local.rate

    async def admit(self, key: str) -> int:
        rate = self.rate
        if rate is None:
            return 0
        return await self._shared.either(
            lambda: self._shared.take(self._name, key, rate), lambda: self._local.take(key)
        )
