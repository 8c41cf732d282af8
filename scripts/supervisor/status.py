"""The supervisor's status file: what runs, since when, and each server's restarts.

The gateway shows it to operators in `/health` (SUPERVISOR_STATUS_FILE, bot/health.py), so a
server that died and came back is visible there and not only in the terminal. Written whole to
a temporary file and renamed, so a reader never sees half of it; it holds no secret.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ServerStatus:
    state: str = "waiting"
    """waiting, starting, running, restarting (its next start is `next_start_at`), stopped."""
    pid: int | None = None
    started_at: str | None = None
    restarts: int = 0
    last_exit: str | None = None
    """'killed by SIGKILL', 'exit status 1' ..."""
    last_exit_at: str | None = None
    next_start_at: str | None = None


@dataclass
class StatusFile:
    path: Path | None
    state: str = "starting"
    """starting, running, stopping, stopped, failed (the stack stopped for `reason`)."""
    reason: str | None = None
    servers: dict[str, ServerStatus] = field(default_factory=dict)
    started_at: str = field(default_factory=now_iso)

    def server(self, name: str) -> ServerStatus:
        return self.servers.setdefault(name, ServerStatus())

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reason": self.reason,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": now_iso(),
            "servers": {name: vars(status) for name, status in self.servers.items()},
        }

    def write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.path)
