"""The Telegram channel (docs/telegram.md).

`setup(app)` adds it to the gateway when TELEGRAM_BOT_TOKEN is set: long polling by default,
a webhook route when TELEGRAM_WEBHOOK_URL is set. Call it after `app[SETTINGS]` is set and
before the app starts; `app[ROUTER]` is read when the app starts.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.config import TelegramConfig, load_telegram_config
from bot.channels.telegram.service import TelegramService
from bot.keys import SETTINGS

__all__ = ["TELEGRAM", "TelegramChannel", "TelegramConfig", "TelegramService", "setup"]

logger = logging.getLogger(__name__)

TELEGRAM: web.AppKey[TelegramService] = web.AppKey("telegram", TelegramService)
"""The running Telegram service (present only when the channel is enabled)."""


def setup(app: web.Application, config: TelegramConfig | None = None) -> None:
    """Enable the Telegram channel on `app` (a no-op without TELEGRAM_BOT_TOKEN).

    `config` defaults to telegram.yml and the coordinates of areas.yml in the settings'
    configuration directory (CONF_DIR, default conf/).
    Raises ConfigError on invalid settings or configuration.
    """
    settings = app[SETTINGS]
    if not settings.telegram_token:
        logger.info("Telegram channel off: TELEGRAM_BOT_TOKEN is not set")
        return
    service = TelegramService(settings, config or load_telegram_config(settings.conf_dir))
    app[TELEGRAM] = service
    if service.webhook_path is not None:
        app.router.add_post(service.webhook_path, service.handle_webhook, name="telegram-webhook")
    app.cleanup_ctx.append(service.lifecycle)
