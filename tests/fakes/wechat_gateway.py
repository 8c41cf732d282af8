"""The real gateway (create_app: router, transcript, handoff desk, console) with the WeChat
channel on a test database, in front of the fake Rasa and the fake WeChat API, and WeChat's
push side aimed at it (tests/fakes/wechat_server.py). For tests/integration/wechat/ and the
attack suite."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import bot.channels.wechat as wechat_channel
from bot.app import create_app
from bot.channels.wechat import WECHAT, WeChatService
from bot.channels.wechat.config import WeChatConfig, load_wechat_config
from bot.keys import CORE_ROUTER
from bot.router import Router
from bot.settings import GatewaySettings
from store.db import unit_of_work
from store.models import Conversation, Message
from tests.fakes.gateway import settings_for
from tests.fakes.loopback import free_port
from tests.fakes.rasa import FakeRasa
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_server import AES_KEY, TOKEN, WeChatPush

PATH = "/wechat"


def wechat_overrides(fake: FakeWeChat) -> dict[str, Any]:
    """The gateway settings of the WeChat secrets of the fakes (Rasa may take 4 s: longer
    than the passive reply waits here)."""
    return {
        "rasa_timeout": 4.0,
        "wechat_app_id": fake.app_id,
        "wechat_app_secret": fake.app_secret,
        "wechat_token": TOKEN,
        "wechat_encoding_aes_key": AES_KEY,
        "wechat_api_base_url": fake.url,
    }


def wechat_env(fake: FakeWeChat) -> dict[str, str]:
    """The environment `python -m bot` needs to run the channel against the fakes (for an
    end-to-end module's `gateway_env`, tests/e2e/conftest.py)."""
    return {
        name.upper(): str(value)
        for name, value in wechat_overrides(fake).items()
        if name.startswith("wechat_")
    }


def wechat_settings(
    rasa: FakeRasa, db_url: str, fake: FakeWeChat, **overrides: Any
) -> GatewaySettings:
    """Gateway settings with the WeChat secrets of the fakes."""
    return settings_for(rasa, db_url, **{**wechat_overrides(fake), **overrides})


def wechat_config(**changes: Any) -> WeChatConfig:
    """conf/wechat.yml with test timings (a passive reply waits at most a second)."""
    base = load_wechat_config()
    return dataclasses.replace(base, **{"passive_reply_seconds": 1.0, **changes})


def prepare(config: WeChatConfig) -> Any:
    """A `running_console(prepare=...)` hook that adds the WeChat channel."""

    def add(app: web.Application) -> None:
        wechat_channel.setup(app, config)

    return add


@dataclass
class WeChatGateway:
    app: web.Application
    url: str
    """The WeChat URL, e.g. http://127.0.0.1:PORT/wechat."""
    push: WeChatPush

    @property
    def router(self) -> Router:
        return self.app[CORE_ROUTER]

    @property
    def service(self) -> WeChatService:
        return self.app[WECHAT]


@asynccontextmanager
async def wechat_gateway(
    settings: GatewaySettings, config: WeChatConfig, fake: FakeWeChat, *, mode: str = "safe"
) -> AsyncIterator[WeChatGateway]:
    """One gateway process (create_app without the web chat) with the WeChat channel, served
    as `python -m bot` serves it (web.AppRunner: a request WeChat gives up on is not
    cancelled, its handler runs on)."""
    config = dataclasses.replace(config, security_mode=mode)
    app = create_app(settings, channels=False)
    wechat_channel.setup(app, config)
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}{config.path}"
        yield WeChatGateway(app, url, WeChatPush(url, fake, mode=mode, app_id=fake.app_id))
    finally:
        await runner.cleanup()


def transcript(factory: sessionmaker[Session], openid: str) -> list[tuple[str, str, str, str]]:
    """(direction, sender, status, text) of the follower's conversation, in order."""
    with unit_of_work(factory) as session:
        rows = session.execute(
            select(Message.direction, Message.sender, Message.status, Message.text)
            .join(Conversation, Message.conversation_pk == Conversation.id)
            .where(Conversation.conversation_id == f"wechat:{openid}")
            .order_by(Message.id)
        )
        return [(str(d), str(s), str(st), str(t)) for d, s, st, t in rows]
