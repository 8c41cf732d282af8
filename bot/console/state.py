"""The console's per-application state and small shared helpers (JSON errors, the clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

from aiohttp import web

from bot.console.canned import Canned
from bot.console.frames import HandleCache
from bot.console.hashing import HashPool
from bot.console.pages import ConsoleFiles
from bot.console.ratelimit import LoginLimiter, LoginLimits
from bot.settings import GatewaySettings
from store.db import in_thread

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

SESSION_IDLE: Final = timedelta(minutes=30)
"""A console session unused for this long ends (the agent logs in again)."""
SESSION_LIFETIME: Final = timedelta(hours=12)
"""Absolute: a session ends this long after login whatever happens (one working shift)."""


@dataclass
class ConsoleState:
    files: ConsoleFiles
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    factory: sessionmaker[Session] | None = None
    limiter: LoginLimits = field(default_factory=LoginLimiter)
    """In memory; in Redis with several replicas (set when the console starts)."""
    hashing: HashPool = field(default_factory=lambda: HashPool(1, 8))
    """The password checks' own threads (bot/console/hashing.py); sized from the settings when
    the console starts."""
    idle: timedelta = SESSION_IDLE
    lifetime: timedelta = SESSION_LIFETIME
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    canned: tuple[Canned, ...] = ()
    handles: HandleCache = field(default_factory=HandleCache)
    """Conversation ids → handles for the websockets' frames."""
    claim_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    """Per staff user: their claims one at a time, so two at once cannot pass the chat limit."""
    """conf/canned_replies.yml, read at start-up."""
    """Open console websockets (closed at shutdown)."""

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one unit of work in a worker thread (503 while the console starts)."""
        if self.factory is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return await in_thread(self.factory, work)


CONSOLE: Final = web.AppKey("console", ConsoleState)


def error(status: int, code: str, message: str) -> web.Response:
    """The gateway's JSON error shape: {"error": {"code", "message"}}."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class ApiError(Exception):
    """Raised by handlers; turned into `error(...)` by the auth wrapper."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        return error(self.status, self.code, self.message)
