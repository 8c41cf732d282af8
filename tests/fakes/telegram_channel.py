"""The Telegram channel inside a minimal gateway app (`bot.channels.telegram.setup`) with a small
fake router, for the channel's tests (tests/integration/telegram/): the real python-telegram-bot
against the fake Bot API (tests/fakes/telegram_api.py), in long-polling or webhook mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.base import Channel
from bot.channels.telegram import TELEGRAM, TelegramService, setup
from bot.channels.telegram.config import TelegramConfig
from bot.keys import ROUTER, SETTINGS
from bot.messages import Button, HandleResult, Inbound, Reply, TranscriptEntry
from bot.settings import GatewaySettings
from tests.fakes.telegram_api import FakeTelegram

WEBHOOK_URL = "https://bot.example.test/telegram/webhook"
WEBHOOK_SECRET = "s3cret-Token_for-tests"
NOT_TEXT = "暂时只能看懂文字，请用文字描述您的问题。"


class FakeRouter:
    """Records what the channel hands over; answers canned replies; dedupes by external_id;
    keeps the replies (with their buttons) as the history the channel checks callbacks on.
    Like the router it says when a message is stored (`on_stored`, after `store_delay`; never
    while `store_error` is set; `stored_at` notes when, by external_id, in monotonic time),
    answers one message of a chat at a time and, asked to `push`, sends the replies itself (a
    failed delivery is logged)."""

    def __init__(self) -> None:
        self.inbound: list[Inbound] = []
        self.replies: dict[str, list[TranscriptEntry]] = {}
        self.channels: dict[str, Channel] = {}
        self.seen: set[str] = set()
        self.delay = 0.0
        self.error: Exception | None = None
        self.store_delay = 0.0
        self.store_error: Exception | None = None
        self.stored_at: dict[str, float] = {}
        self._turns: dict[str, asyncio.Lock] = {}
        self.answer: Callable[[Inbound], Sequence[Reply]] = self.default_answer
        self.changed = asyncio.Event()

    @staticmethod
    def default_answer(message: Inbound) -> Sequence[Reply]:
        if not message.text:
            return (Reply(NOT_TEXT),)
        return (
            Reply(
                f"收到：{message.text}",
                buttons=(Button("是", "/affirm"), Button("否", "/deny")),
            ),
        )

    async def handle(
        self,
        message: Inbound,
        *,
        on_stored: Callable[[], None] | None = None,
        push: bool = False,
    ) -> HandleResult:
        self.inbound.append(message)
        self.changed.set()
        cid = message.conversation_id
        await asyncio.sleep(self.store_delay)
        if self.store_error is not None:
            raise self.store_error
        if message.external_id is not None and message.external_id in self.seen:
            self._stored(message, on_stored)
            return HandleResult(cid, (), duplicate=True)
        if message.external_id is not None:
            self.seen.add(message.external_id)
        self._stored(message, on_stored)
        async with self._turns.setdefault(cid, asyncio.Lock()):
            await asyncio.sleep(self.delay)
            if self.error is not None:
                raise self.error
            replies = tuple(self.answer(message))
            self.replies.setdefault(cid, []).extend(
                TranscriptEntry("out", r.text, r.buttons) for r in replies
            )
            if not push:
                return HandleResult(cid, replies)
            try:
                await self.channels[message.channel].send(message.chat_id, replies)
            except Exception:
                logging.getLogger(__name__).exception("%s: delivery failed", cid)
            return HandleResult(cid, replies, delivered=True)

    def _stored(self, message: Inbound, on_stored: Callable[[], None] | None) -> None:
        self.stored_at.setdefault(message.external_id or "", time.monotonic())
        if on_stored is not None:
            on_stored()

    def register(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]:
        return self.replies.get(conversation_id, [])[-limit:]

    async def wait_for(self, count: int, within: float = 5.0) -> list[Inbound]:
        async def reached() -> None:
            while len(self.inbound) < count:
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(reached(), within)
        except TimeoutError:
            raise AssertionError(f"router got {len(self.inbound)} of {count} messages") from None
        return self.inbound[:count]


async def eventually(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `predicate()` holds, for things the fake server does not see (e.g. logs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"not true after {within}s")
        await asyncio.sleep(0.02)


@dataclass
class Gateway:
    app: web.Application
    server: TestServer
    client: TestClient[Any, Any]
    service: TelegramService
    mode: str


def settings_for(fake: FakeTelegram, mode: str, **overrides: Any) -> GatewaySettings:
    webhook = mode == "webhook"
    return GatewaySettings(
        telegram_token=fake.token,
        telegram_api_base_url=fake.base_url,
        telegram_webhook_url=WEBHOOK_URL if webhook else None,
        telegram_webhook_secret=WEBHOOK_SECRET if webhook else None,
        **overrides,
    )


def make_app(
    settings: GatewaySettings, router: FakeRouter, config: TelegramConfig
) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app[ROUTER] = router
    setup(app, config)
    return app


@contextlib.asynccontextmanager
async def running_gateway(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig, mode: str
) -> AsyncIterator[Gateway]:
    app = make_app(settings_for(fake, mode), router, config)
    server = TestServer(app)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        if mode == "webhook":
            fake.webhook_proxy = str(server.make_url("/"))
        yield Gateway(app, server, client, app[TELEGRAM], mode)
    finally:
        await client.close()
