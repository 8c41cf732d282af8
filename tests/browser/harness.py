"""What the real-browser tests share (the browser fixture is in tests/browser/conftest.py):
Debian's Chromium, or a skip (a failure under CI=true) without it; a gateway app served from a
background thread (Playwright's sync API runs outside any asyncio loop); a page that may reach
only that gateway and must log no error."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from aiohttp import web

from tests.fakes.loopback import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

T = TypeVar("T")

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (a wrapper script that sets its flags and runs /usr/lib/chromium)."""
INSTALL_HINT = (
    "install Debian's Chromium: `sudo apt-get install -y chromium` (or run scripts/setup.sh as"
    " root); never `playwright install`"
)


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {what}: browser tests must run in CI; {INSTALL_HINT}")
    pytest.skip(f"browser test skipped: {what}; {INSTALL_HINT}")


def chromium_executable() -> str:
    """/usr/bin/chromium (else a `chromium` on PATH), or skip (fail under CI=true)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("Playwright is not installed in .venv (pip install -e '.[dev]')")
    found = str(CHROMIUM) if CHROMIUM.is_file() else shutil.which("chromium")
    if found is None:
        _missing(f"no {CHROMIUM} (and no `chromium` on PATH)")
    assert found is not None
    return found


class GatewayThread:
    """Serves an aiohttp application on 127.0.0.1 (a free port) from its own thread and loop."""

    def __init__(self, make_app: Callable[[], web.Application]) -> None:
        self._make_app = make_app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.url = ""

    def start(self) -> GatewayThread:
        self._thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        self.app = self._make_app()
        self._runner = web.AppRunner(self.app, shutdown_timeout=5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the gateway's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            self.call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def serving(*servers: Server) -> Iterator[GatewayThread]:
    """The fakes (tests/fakes/) listening from a loop thread of their own for the length of the
    block (`thread.call` runs a coroutine there); closed in the reverse order."""
    thread = GatewayThread(web.Application).start()
    started: list[Server] = []
    try:
        for server in servers:
            thread.call(server.start())
            started.append(server)
        yield thread
    finally:
        for server in reversed(started):
            thread.call(server.close())
        thread.stop()


@contextmanager
def watched_page(
    browser: Browser,
    origin: str,
    *,
    errors: list[str],
    foreign: list[str],
    viewport: tuple[int, int] = (1280, 860),
) -> Iterator[Page]:
    """A zh-CN page that may reach only `origin` (any other request is aborted and listed in
    `foreign`), its console errors and uncaught exceptions listed in `errors` (CSP and Trusted
    Types violations among them). At the end both lists must be empty."""
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(15_000)

    def only_the_origin(route: Any) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_origin)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert foreign == [], "the page reached outside the gateway"
    assert errors == [], "console errors"
