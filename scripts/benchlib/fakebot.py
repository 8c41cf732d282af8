"""A Telegram Bot API stand-in for `make bench`'s outage part (scripts/benchoutage.py): real HTTP
on loopback, in a thread of its own, answering what the gateway's Telegram channel asks while it
fans out notices (getMe, deleteWebhook, getUpdates, sendMessage), and enforcing Telegram's flood
limits the way Telegram does: more than `per_second` messages in any second overall, or a second
message to one chat within `per_chat_seconds`, is answered 429 with `retry_after`.

It records the time of every message it accepted and of every 429, so the bench can say how
long the fan-out took, the rate it held and whether any chat got a notice twice. The tests' fake
(tests/fakes/telegram_api.py) checks far more; this one stays small and fast under 20,000 sends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "7012345678:AAFakeTokenForTheBenchOnly_abcdefghij"
BOT = {"id": 7012345678, "is_bot": True, "first_name": "bench", "username": "bench_power_bot"}


@dataclass
class Record:
    """What the fake saw, in monotonic time."""

    sent: list[tuple[float, int]] = field(default_factory=list)
    """(when, chat id) of every message accepted."""
    refused: list[float] = field(default_factory=list)
    """When a send was answered 429."""

    def per_chat(self) -> Counter[int]:
        return Counter(chat for _, chat in self.sent)


class FakeBotApi:
    def __init__(self, per_second: int = 30, per_chat_seconds: float = 1.0) -> None:
        self.per_second = per_second
        self.per_chat_seconds = per_chat_seconds
        self.record = Record()
        self.port = 0
        self._window: deque[float] = deque()
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the API --------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        return dict(await request.post())

    def _limited(self, chat: int, now: float) -> float | None:
        """Seconds to wait, when this send would break a limit; else None (it is counted)."""
        with self._lock:
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            wait = None
            if len(self._window) >= self.per_second:
                wait = 1.0 - (now - self._window[0])
            last = self._last.get(chat)
            if last is not None and now - last < self.per_chat_seconds:
                wait = max(wait or 0.0, self.per_chat_seconds - (now - last))
            if wait is not None:
                self.record.refused.append(now)
                return wait
            self._window.append(now)
            self._last[chat] = now
            self.record.sent.append((now, chat))
            return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        params = await self._params(request)
        if method == "getme":
            return web.json_response({"ok": True, "result": BOT})
        if method in ("deletewebhook", "setwebhook", "close", "logout"):
            return web.json_response({"ok": True, "result": True})
        if method == "getupdates":
            await asyncio.sleep(min(float(params.get("timeout") or 0), 1.0))
            return web.json_response({"ok": True, "result": []})
        if method != "sendmessage":
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.json_response(body, status=404)
        chat = int(params.get("chat_id") or 0)
        wait = self._limited(chat, time.monotonic())
        if wait is not None:
            retry = max(1, round(wait + 0.5))
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry}",
                "parameters": {"retry_after": retry},
            }
            return web.json_response(body, status=429)
        message = {
            "message_id": len(self.record.sent),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private", "first_name": "客户"},
            "from": BOT,
            "text": str(params.get("text") or ""),
        }
        markup = params.get("reply_markup")
        if markup:
            message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
        return web.json_response({"ok": True, "result": message})

    # --- its thread -----------------------------------------------------------------------

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._ready.set()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._serve())
        loop.run_forever()
        if self._runner is not None:
            loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def start(self) -> FakeBotApi:
        self._thread = threading.Thread(target=self._main, name="fake-bot-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the fake Bot API did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
