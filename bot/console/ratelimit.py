"""Login throttling: after `max_failures` wrong passwords for one (IP, username) within
`window`, further attempts are refused (429) until the oldest failure leaves the window.

Besides, all attempts together, from any address for any user, are limited to
CONSOLE_LOGIN_RATE (`overall`): every attempt costs an argon2 check, so a flood from many
addresses is capped too. That cap can keep staff from logging in while a flood lasts (sessions
already open go on working); it is what keeps the customers answered meanwhile.

A success clears the pair's failures. `LoginLimiter` keeps the counts in this process's memory
(a restart forgets them: the attacker gains at most one more window). With several gateway
replicas (GATEWAY_SHARED) `SharedLoginLimiter` keeps the same counts in Redis, so a guesser
gets no more tries by spreading them over the replicas; while Redis is away each replica counts
alone (bot/replicas/ratelimit.py). The login (bot/console/login.py) asks either as
`LoginLimits`.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from bot import limits
from bot.ratelimit import RateLimiter

if TYPE_CHECKING:
    from bot.replicas.ratelimit import SharedLimits

MAX_FAILURES: Final = 5
WINDOW_SECONDS: Final = 15 * 60
MAX_KEYS: Final = 10_000
"""Pairs remembered at most (oldest dropped first): bounds memory under a spray attack."""


@dataclass(frozen=True)
class Wait:
    """Whether a login attempt may check its password: `seconds` 0, or the seconds to wait."""

    seconds: int = 0
    crowded: bool = False
    """The overall rate refused it, not this pair's failures."""


class LoginLimits(Protocol):
    async def check(self, ip: str, username: str) -> Wait:
        """Before an attempt: its pair's failures, then (one attempt counted) the overall rate."""
        ...

    async def record(self, ip: str, username: str, *, succeeded: bool) -> None:
        """After an attempt: a failure counted, or a success clearing the pair's failures."""
        ...


@dataclass
class LoginLimiter:
    max_failures: int = MAX_FAILURES
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    overall: RateLimiter = field(default_factory=lambda: RateLimiter(limits.LOGIN))
    _failures: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    @staticmethod
    def key(ip: str, username: str) -> tuple[str, str]:
        return ip, username.strip().lower()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self.clock()
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def retry_after(self, ip: str, username: str) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        failures = self._recent(self.key(ip, username))
        if len(failures) < self.max_failures:
            return 0
        return max(1, int(failures[0] + self.window - self.clock()) + 1)

    def overall_wait(self) -> int:
        """0 and one attempt counted when the gateway's overall rate allows it, else the
        seconds until it does."""
        return self.overall.take("all")

    def failed(self, ip: str, username: str) -> None:
        key = self.key(ip, username)
        failures = self._failures.setdefault(key, deque())
        failures.append(self.clock())
        if len(self._failures) > MAX_KEYS:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, ip: str, username: str) -> None:
        self._failures.pop(self.key(ip, username), None)

    def wait(self, ip: str, username: str) -> Wait:
        seconds = self.retry_after(ip, username)
        if seconds:
            return Wait(seconds)
        seconds = self.overall_wait()
        return Wait(seconds, crowded=bool(seconds))

    def record_now(self, ip: str, username: str, *, succeeded: bool) -> None:
        if succeeded:
            self.succeeded(ip, username)
        else:
            self.failed(ip, username)

    async def check(self, ip: str, username: str) -> Wait:
        return self.wait(ip, username)

    async def record(self, ip: str, username: str, *, succeeded: bool) -> None:
        self.record_now(ip, username, succeeded=succeeded)


class SharedLoginLimiter:
    """`LoginLimits` counted in Redis by every replica (`local`, this replica's, while Redis
    is away)."""

    def __init__(self, shared: SharedLimits, local: LoginLimiter) -> None:
        self._shared = shared
        self._local = local
        self._overall = shared.limiter("login", local.overall)

    def _pair(self, ip: str, username: str) -> str:
        """The pair's key: hashed (a username may be long, and is nobody's business in Redis)."""
        address, user = self._local.key(ip, username)
        return hashlib.sha256(f"{address}\n{user}".encode()).hexdigest()[:32]

    async def check(self, ip: str, username: str) -> Wait:
        local = self._local
        seconds = await self._shared.either(
            lambda: self._shared.window_wait(
                "login-failures", self._pair(ip, username), local.max_failures, local.window
            ),
            lambda: local.retry_after(ip, username),
        )
        if seconds:
            return Wait(seconds)
        seconds = await self._overall.admit("all")
        return Wait(seconds, crowded=bool(seconds))

    async def record(self, ip: str, username: str, *, succeeded: bool) -> None:
        pair, shared = self._pair(ip, username), self._shared

        def in_redis() -> Awaitable[None]:
            if succeeded:
                return shared.window_clear("login-failures", pair)
            return shared.window_add("login-failures", pair, self._local.window, uuid.uuid4().hex)

        await shared.either(
            in_redis, lambda: self._local.record_now(ip, username, succeeded=succeeded)
        )
