"""Rate limits: at most `count` requests per `seconds` for each key (a client address, an API
sender, or one key for everybody), as token buckets.

A bucket holds `count` tokens and refills at `count / seconds` per second: a burst of `count`
is allowed, then one request every `seconds / count`. A refused request takes no token, so a
client that keeps hammering is let in again as soon as the bucket refills, no later.

`RateLimiter` keeps them in this process's memory: a restart forgets the counts (an attacker
gains at most one more burst). Keys are bounded (least recently used dropped first), so a flood
of distinct keys costs memory only up to `max_keys` buckets. With several gateway replicas
(GATEWAY_SHARED) the same buckets are counted in Redis, shared by every replica
(bot/replicas/ratelimit.py); callers see either through `Limiter`.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

MAX_KEYS: Final = 50_000
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*")


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}"

    @classmethod
    def parse(cls, raw: str, name: str) -> Rate | None:
        """'30/60' (30 per 60 seconds) → Rate; '0' or 'off' → None (no limit); ValueError
        naming `name` otherwise."""
        text = raw.strip().lower()
        if text in ("0", "off"):
            return None
        match = _RATE.fullmatch(text)
        if match is None or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
            raise ValueError(
                f"{name} must be COUNT/SECONDS (e.g. 30/60: 30 per minute) or 0 (off), got {raw!r}"
            )
        return cls(int(match.group(1)), float(match.group(2)))


def whole_seconds(wait: float) -> int:
    """A token bucket's wait as Retry-After says it: whole seconds, at least 1."""
    return max(1, math.ceil(wait - 1e-9))  # 1.0000000000000009 s is 1 s


class Limiter(Protocol):
    """What a channel asks of a limit, wherever it is counted."""

    @property
    def rate(self) -> Rate | None: ...

    async def admit(self, key: str) -> int:
        """0 when allowed (a token taken), otherwise the whole seconds to wait."""
        ...


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets per key; `take(key)` is 0 when allowed (a token taken), otherwise the whole
    seconds to wait (what Retry-After says)."""

    def __init__(
        self,
        rate: Rate | None,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, key: str, rate: Rate) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(rate.count), now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            refill = (now - bucket.at) * rate.count / rate.seconds
            bucket.tokens = min(float(rate.count), bucket.tokens + refill)
            bucket.at = now
        return bucket

    def take(self, key: str) -> int:
        rate = self.rate
        if rate is None:
            return 0
        bucket = self._bucket(key, rate)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return whole_seconds((1 - bucket.tokens) * rate.seconds / rate.count)

    async def admit(self, key: str) -> int:
        """`take`, as `Limiter` asks it."""
        return self.take(key)
