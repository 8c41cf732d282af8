"""A TCP proxy on loopback that a fault test can cut or hold, in front of a real server.

The fault suite puts one in front of Redis (Rasa's lock store) and one in front of the action
server (Rasa's action calls), so that a fault touches only the suite's own stack, never the
machine's Redis:

- `cut()`: stop listening and drop every connection: the server seems gone (connections
  refused) until `restore()` listens on the same port again;
- `hold()`: connections are accepted, but nothing is forwarded: a request that arrives now
  stays "in flight" (`held` counts them) until `release()` drops them unanswered, as if the
  server had died before reading them (nothing reaches it).

It runs on an event loop of its own in a thread, so synchronous tests drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 65536


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._holding = False
        self._released = asyncio.Event()
        self.held = 0
        """Connections accepted and waiting while the proxy holds."""
        self.port = 0

    # --- from the test's thread -------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def hold(self) -> None:
        self._call(self._hold(True))

    def release(self) -> None:
        """Drop the held connections unanswered; forward the next ones again."""
        self._call(self._hold(False))

    def close(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    # --- on the proxy's loop ----------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._connection, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _hold(self, on: bool) -> None:
        self._holding = on
        if on:
            self._released = asyncio.Event()
        else:
            self._released.set()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self._holding:
                self.held += 1
                await self._released.wait()
                return  # dropped: nothing was forwarded
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._upstream)
            except OSError:
                return  # the server is down: the client sees its connection closed
            self._writers.add(up_writer)
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                self._writers.discard(up_writer)
        finally:
            writer.close()
            self._writers.discard(writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    writer.close()
