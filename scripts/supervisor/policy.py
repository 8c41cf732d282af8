"""When a server that died is started again, and when the supervisor gives up.

A server is restarted after 1, 2, 4 ... seconds (up to `max_delay`), the delay growing with the
restarts of the last `window` seconds; one more restart than `limit` within that window is a
crash loop: the stack stops, because a server that dies as soon as it starts will not get better
by itself. A server that stayed up for a whole window is restarted after `first_delay` again.
A server that is running but stops answering its health probe (`probe_interval` apart,
`hung_after` times in a row: a deadlock, a busy loop, a process stopped by a signal) is stopped
and then restarted like one that died.
The numbers come from the environment (`from_env`), validated once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass


class PolicyError(ValueError):
    """A RUN_* setting is not a valid number: the message names it."""


@dataclass(frozen=True)
class Policy:
    limit: int = 5
    """RUN_RESTART_LIMIT: restarts of one server allowed within `window`."""
    window: float = 300.0
    """RUN_RESTART_WINDOW (seconds)."""
    max_delay: float = 30.0
    """RUN_RESTART_MAX_DELAY: the longest wait before a restart (seconds)."""
    first_delay: float = 1.0
    start_timeout: float = 240.0
    """RUN_START_TIMEOUT: how long a server may take to become ready (Rasa loads its model)."""
    stop_timeout: float = 30.0
    """RUN_STOP_TIMEOUT: how long a server may take to stop after SIGTERM before SIGKILL (more
    than the gateway's GATEWAY_SHUTDOWN_TIMEOUT, 20 s, for the messages it is finishing)."""
    probe_interval: float = 10.0
    """RUN_PROBE_INTERVAL: seconds between health probes of a running server."""
    hung_after: int = 9
    """RUN_HUNG_AFTER: unanswered probes in a row after which a running server counts as hung
    (9 x 10 s: longer than Rasa answering nothing while it loads a model the console deploys)."""

    def delay(self, recent: int) -> float:
        """Seconds before a restart, `recent` restarts having happened within the window."""
        return float(min(self.first_delay * 2**recent, self.max_delay))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Policy:
        def number(name: str, default: float, *, whole: bool = False) -> float:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw) if whole else float(raw)
            except ValueError:
                raise PolicyError(f"{name}={raw!r} is not a number") from None
            if value <= 0:
                raise PolicyError(f"{name}={raw!r} must be more than 0")
            return value

        return cls(
            limit=int(number("RUN_RESTART_LIMIT", cls.limit, whole=True)),
            window=number("RUN_RESTART_WINDOW", cls.window),
            max_delay=number("RUN_RESTART_MAX_DELAY", cls.max_delay),
            start_timeout=number("RUN_START_TIMEOUT", cls.start_timeout),
            stop_timeout=number("RUN_STOP_TIMEOUT", cls.stop_timeout),
            probe_interval=number("RUN_PROBE_INTERVAL", cls.probe_interval),
            hung_after=int(number("RUN_HUNG_AFTER", cls.hung_after, whole=True)),
        )


class Restarts:
    """One server's restarts: how many in all, and when the recent ones were."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._recent: deque[float] = deque()
        self.total = 0

    def recent(self, now: float) -> int:
        while self._recent and now - self._recent[0] >= self._policy.window:
            self._recent.popleft()
        return len(self._recent)

    def next_delay(self, now: float) -> float | None:
        """Seconds to wait before restarting now; None: that would be a crash loop."""
        recent = self.recent(now)
        if recent >= self._policy.limit:
            return None
        return self._policy.delay(recent)

    def record(self, now: float) -> None:
        self._recent.append(now)
        self.total += 1
