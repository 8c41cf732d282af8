"""A small stand-in for the router and a gateway app holding only the web chat, for its tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.channels import webchat
from bot.channels.base import Channel
from bot.keys import ROUTER, SETTINGS
from bot.messages import Button, HandleResult, Inbound, Reply, TranscriptEntry
from bot.settings import GatewaySettings

MENU = (Button("查询电费", "/query_bill"), Button("报修停电", "/report_fault"))
BILL = "您户号 3301000001 本月电费 128.50 元。"
FAULT = "请告诉我停电的地址。"
BUSY = "系统繁忙，请稍后再试，您的消息已记录。"


def canned(text: str) -> tuple[Reply, ...]:
    if text == "/query_bill":
        return (Reply(BILL),)
    if text == "/report_fault":
        return (Reply(FAULT),)
    return (Reply(f"收到：{text}", buttons=MENU),)


@dataclass
class FakeRouter:
    """Records what it is given; answers canned replies; keeps a transcript; dedupes by id.

    Texts with special meaning: 'slow' waits `slow_seconds` first, 'busy' answers degraded,
    'boom' raises.
    """

    inbound: list[Inbound] = field(default_factory=list)
    channels: dict[str, Channel] = field(default_factory=dict)
    transcripts: dict[str, list[TranscriptEntry]] = field(default_factory=lambda: defaultdict(list))
    seen: set[tuple[str, str]] = field(default_factory=set)
    slow_seconds: float = 0.5
    history_fails: bool = False

    async def handle(self, message: Inbound) -> HandleResult:
        self.inbound.append(message)
        conversation = message.conversation_id
        if message.external_id is not None:
            key = (conversation, message.external_id)
            if key in self.seen:
                return HandleResult(conversation, (), duplicate=True)
            self.seen.add(key)
        if message.text == "boom":
            raise RuntimeError("router bug")
        self.transcripts[conversation].append(
            TranscriptEntry("in", message.text, at="2026-11-23T10:00:00+08:00", sender="customer")
        )
        if message.text == "slow":
            await asyncio.sleep(self.slow_seconds)
        degraded = message.text == "busy"
        replies = (Reply(BUSY),) if degraded else canned(message.text)
        for reply in replies:
            self.transcripts[conversation].append(
                TranscriptEntry("out", reply.text, reply.buttons, at="2026-11-23T10:00:01+08:00")
            )
        return HandleResult(conversation, replies, degraded=degraded)

    def register(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]:
        if self.history_fails:
            raise RuntimeError("database down")
        return list(self.transcripts.get(conversation_id, []))[-limit:]

    async def show_history(
        self,
        conversation_id: str,
        limit: int,
        show: Callable[[list[TranscriptEntry]], Awaitable[None]],
    ) -> None:
        await show(await self.history(conversation_id, limit))

    def add_agent_message(self, conversation_id: str, reply: Reply) -> None:
        self.transcripts[conversation_id].append(
            TranscriptEntry("out", reply.text, reply.buttons, sender="agent")
        )

    def texts(self) -> Sequence[str]:
        return [m.text for m in self.inbound]


def make_app(
    router: FakeRouter,
    settings: GatewaySettings | None = None,
    middlewares: Sequence[Middleware] = (),
) -> web.Application:
    app = web.Application(middlewares=middlewares)
    app[SETTINGS] = settings or GatewaySettings()
    app[ROUTER] = router
    webchat.setup(app)
    return app
