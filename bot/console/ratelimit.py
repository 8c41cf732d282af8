"""Login throttling: after `max_failures` wrong passwords for one (IP, username) within
`window`, further attempts are refused (429) until the oldest failure leaves the window.

Besides, all attempts together, from any address for any user, are limited to
CONSOLE_LOGIN_RATE (`overall`): every attempt costs an argon2 check, so a flood from many
addresses is capped too. That cap can keep staff from logging in while a flood lasts (sessions
already open go on working); it is what keeps the customers answered meanwhile.

Kept in memory: one gateway process serves the console; a restart forgets the counts (the
attacker gains at most one more window). A success clears the pair's failures.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bot import limits
from bot.ratelimit import RateLimiter

MAX_FAILURES: Final = 5
WINDOW_SECONDS: Final = 15 * 60
MAX_KEYS: Final = 10_000
"""Pairs remembered at most (oldest dropped first): bounds memory under a spray attack."""


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
