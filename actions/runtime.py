"""Process-wide resources of the action server, created lazily on first use.

Nothing is created at import time: the settings are validated and the engine is built when the
first action runs (or when a test installs its own runtime with `set_runtime`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings, load_settings
from store.db import make_engine, make_session_factory, unit_of_work


@dataclass(frozen=True)
class Runtime:
    """What an action needs from the outside world: configuration, a database, a clock."""

    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits when the block succeeds, rolls back when it raises."""
        with unit_of_work(self.session_factory) as session:
            yield session

    def now(self) -> datetime:
        return self.clock()


_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """Return the shared runtime, building it from the environment on first call."""
    global _runtime
    with _lock:
        if _runtime is None:
            settings = load_settings()
            _runtime = Runtime(settings, make_session_factory(make_engine()))
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Install a runtime (tests: a temporary database and a fixed clock); None resets."""
    global _runtime
    with _lock:
        _runtime = runtime
