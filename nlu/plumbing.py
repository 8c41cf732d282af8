"""What the parts of the retraining loop share: their settings and database, the file locks of
models/, and the store's exceptions as the loop's typed errors (nlu.rules)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy.orm import Session, sessionmaker

from nlu.rules import Conflict, Invalid, NotFound
from nlu.settings import NluSettings
from store.services import nlu_inbox, nlu_registry
from store.workflow import IllegalTransition

SYSTEM = "system"
"""The actor of what the loop does by itself (a verdict, a failed job, a pruned file)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class LoopPart:
    """A part of the loop: the NLU settings, the database and the clock it records with."""

    settings: NluSettings
    factory: sessionmaker[Session]
    clock: Callable[[], datetime] = utc_now


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """The services' exceptions as the loop's typed errors (its own are typed already)."""
    try:
        yield
    except (nlu_inbox.NotFound, nlu_registry.NotFound) as exc:
        raise NotFound(str(exc).strip("'\"")) from exc
    except (nlu_registry.JobActive, IllegalTransition) as exc:
        raise Conflict(str(exc)) from exc
    except nlu_inbox.InboxError as exc:
        raise Invalid(str(exc)) from exc


class FileLock:
    """An exclusive flock on a file of models/ (held by one open file at a time, across
    processes and within one)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle: IO[str] | None = handle

    @classmethod
    def try_acquire(cls, path: Path) -> FileLock | None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle)

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def training_lock(settings: NluSettings) -> Path:
    """Held by the process running a training job (models/.nlu-training.lock)."""
    return settings.models_dir / ".nlu-training.lock"


def deploy_lock(settings: NluSettings) -> Path:
    return settings.models_dir / ".nlu-deploy.lock"
