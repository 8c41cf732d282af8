"""A fake action server on loopback: only its `GET /health`, which the gateway's health check
asks (`ACTION_SERVER_URL`). Actions themselves are run in process by tests/fakes/rasa_tracker.py,
or by the real action server (tests/processes.py).

`up = False` answers 503 {"status": "down"}, as an action server that lost its database."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tests.fakes.loopback import free_port


@dataclass
class FakeActionServer:
    up: bool = True
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        self.port = self.port or free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, request: web.Request) -> web.Response:
        if not self.up:
            return web.json_response({"status": "down"}, status=503)
        return web.json_response({"status": "ok"})
