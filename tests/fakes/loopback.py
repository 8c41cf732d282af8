"""Serving a fake on 127.0.0.1: a free port, and a fake server (anything with `start()` and
`close()` coroutines) running for the length of a `with` block, on the test's event loop or on a
loop of its own in a thread (for tests without a loop, such as a CLI's `asyncio.run`)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar


class Server(Protocol):
    def start(self) -> Awaitable[Any]: ...

    def close(self) -> Awaitable[None]: ...


S = TypeVar("S", bound=Server)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running(server: S) -> AsyncIterator[S]:
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@contextmanager
def serve_in_thread(server: S) -> Iterator[S]:
    """Run the server on its own event loop in a thread (for tests without a loop)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
