"""The WeChat channel inside the gateway: its parts built at set-up (secrets and configuration
checked then), its routes, and its life cycle: a database engine (the shared token, followers,
notes) and an HTTP session to WeChat made when the gateway starts, the channel registered with
the router, and at shutdown the turns still running given the grace period before both close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from bot.channels.wechat.api import Credentials, WeChatApi, api_root, fetch_token
from bot.channels.wechat.channel import WeChatChannel
from bot.channels.wechat.config import WeChatConfig
from bot.channels.wechat.credentials import WeChatSecrets, check_secrets
from bot.channels.wechat.crypto import MessageCrypto
from bot.channels.wechat.envelope import Envelopes
from bot.channels.wechat.followers import Followers
from bot.channels.wechat.passive import PassiveSlots
from bot.channels.wechat.token import TokenKeeper
from bot.channels.wechat.webhook import Webhook
from bot.keys import ROUTER
from bot.settings import GatewaySettings
from store.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class WeChatService:
    """One Official Account: its webhook, channel and token keeper."""

    def __init__(self, settings: GatewaySettings, config: WeChatConfig) -> None:
        self.settings = settings
        self.config = config
        self.secrets: WeChatSecrets = check_secrets(settings, config.security_mode)
        crypto = None
        if self.secrets.encoding_aes_key:
            crypto = MessageCrypto(self.secrets.encoding_aes_key, self.secrets.app_id)
        self.passive = PassiveSlots(config.max_text_bytes)
        self.channel = WeChatChannel(config, self.passive)
        self.followers = Followers(self.secrets.app_id, config.notes)
        self.webhook = Webhook(
            config,
            Envelopes(config.security_mode, self.secrets.token, crypto),
            self.secrets.token,
            self.channel,
            self.passive,
            self.followers,
        )
        self.tokens: TokenKeeper | None = None
        """The token keeper while the channel runs."""

    def add_routes(self, app: web.Application) -> None:
        path = self.config.path
        app.router.add_get(path, self.webhook.verify, name="wechat-verify", allow_head=False)
        app.router.add_post(path, self.webhook.receive, name="wechat")

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: start with the gateway, stop cleanly with it."""
        router = app[ROUTER]
        self.webhook.router = router
        router.register(self.channel)
        credentials = Credentials(self.secrets.app_id, self.secrets.app_secret)
        async with connect(self.settings, self.config, credentials) as (api, tokens, factory):
            self.tokens = tokens
            self.channel.attach(api, factory)
            self.followers.factory = factory
            log.info("WeChat channel on %s (%s mode)", self.config.path, self.config.security_mode)
            try:
                yield
            finally:
                await self._finish_turns(self.settings.shutdown_timeout)
                self.channel.detach()
                self.followers.factory = None

    async def _finish_turns(self, grace: float) -> None:
        """Turns that outlived their request get the grace period (their replies go out as
        customer-service messages); what is left stays pending for the next start."""
        tasks = set(self.webhook.tasks)
        if not tasks:
            return
        _, left = await asyncio.wait(tasks, timeout=grace)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left)
            log.warning(
                "WeChat: %d turns cut short by the shutdown (kept for the next start)", len(left)
            )


@asynccontextmanager
async def connect(
    settings: GatewaySettings, config: WeChatConfig, credentials: Credentials
) -> AsyncIterator[tuple[WeChatApi, TokenKeeper, sessionmaker[Session]]]:
    """WeChat's API with the shared token on the settings' database, for as long as the block
    runs (the gateway's channel, the operators' command)."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    root = api_root(settings.wechat_api_base_url)
    timeout = config.api_timeout_seconds
    try:
        async with aiohttp.ClientSession() as session:

            async def fetch() -> tuple[str, int]:
                return await fetch_token(session, root, credentials, timeout)

            margin = timedelta(seconds=config.token_refresh_margin_seconds)
            tokens = TokenKeeper(factory, credentials.app_id, fetch, margin=margin)
            yield WeChatApi(session, root, tokens, timeout), tokens, factory
    finally:
        engine.dispose()
