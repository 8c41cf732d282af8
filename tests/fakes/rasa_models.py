"""A fake Rasa server for deployments: `PUT /model` and `GET /status` as Rasa 3.6 speaks them
(rasa/server.py), plus the REST webhook so a test can chat while a model loads.

- `PUT /model?token=T {"model_file": PATH}`: 401 with a wrong token, 400 "BadRequest" with
  Rasa's error JSON when the file does not exist or is not a tar.gz (Rasa: "Agent with name
  ... could not be loaded."), else the load takes `load_seconds` (the old model keeps
  answering meanwhile) and the answer is 204 with no body;
- `GET /status?token=T`: {"model_file": <file name of the loaded model>, "model_id",
  "num_active_training_jobs": 0};
- `POST /webhooks/rest/webhook`: one reply naming the model that answered.

`down()` stops listening (connection refused). `serve_in_thread` runs one for synchronous tests
(the CLI's `asyncio.run`).
"""

from __future__ import annotations

import asyncio
import tarfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.rasa import RASA_VERSION, free_port


def rasa_error(status: int, reason: str, message: str) -> web.Response:
    """Rasa's ErrorResponse body."""
    body = {
        "version": RASA_VERSION,
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": {"parameter": "model", "in": "query"},
        "help": None,
        "code": status,
    }
    return web.json_response(body, status=status)


def loadable(path: Path) -> bool:
    return path.is_file() and tarfile.is_tarfile(path)


@dataclass
class FakeRasaModels:
    token: str | None = "secret-token"
    model_file: str = "current.tar.gz"
    load_seconds: float = 0.0
    loads: list[str] = field(default_factory=list)
    """The model_file of every accepted PUT /model, in order."""
    answered: list[tuple[str, str]] = field(default_factory=list)
    """(text, model that answered) of every webhook call."""
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.port = self.port or free_port()
        app = web.Application()
        app.router.add_put("/model", self._load)
        app.router.add_get("/status", self._status)
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorized(self, request: web.Request) -> bool:
        return self.token is None or request.query.get("token") == self.token

    async def _load(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return rasa_error(401, "NotAuthenticated", "User is not authenticated.")
        body: Any = await request.json()
        path = Path(str((body or {}).get("model_file") or ""))
        if not await asyncio.to_thread(loadable, path):
            return rasa_error(400, "BadRequest", f"Agent with name '{path}' could not be loaded.")
        await asyncio.sleep(self.load_seconds)  # the old agent answers meanwhile
        self.model_file = path.name
        self.loads.append(str(path))
        return web.Response(status=204)

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return rasa_error(401, "NotAuthenticated", "User is not authenticated.")
        body = {
            "model_file": self.model_file,
            "model_id": uuid.uuid5(uuid.NAMESPACE_URL, self.model_file).hex,
            "num_active_training_jobs": 0,
        }
        return web.json_response(body)

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.answered.append((str(body.get("message")), self.model_file))
        reply = {"recipient_id": body.get("sender"), "text": f"answered by {self.model_file}"}
        return web.json_response([reply])


@asynccontextmanager
async def running(server: FakeRasaModels) -> AsyncIterator[FakeRasaModels]:
    await server.start()
    try:
        yield server
    finally:
        await server.down()


@contextmanager
def serve_in_thread(server: FakeRasaModels) -> Iterator[FakeRasaModels]:
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
        asyncio.run_coroutine_threadsafe(server.down(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
