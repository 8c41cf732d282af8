"""Running the Telegram channel inside the gateway: python-telegram-bot's life cycle, long polling
(bot/channels/telegram/polling.py) or the webhook route, and a bot token that never reaches the
logs. Either way an update is confirmed to Telegram only once its message is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.config import TelegramConfig
from bot.channels.telegram.polling import Poller
from bot.channels.telegram.startup import api_root, get_me_status, log_api_root, refusal
from bot.keys import REPLICAS, ROUTER
from bot.replicas import Replicas
from bot.replicas.lease import Lease
from bot.settings import ConfigError, GatewaySettings
from store.configuration.yamlfile import ConfigError as ConfFileError

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES: tuple[str, ...] = ("message", "edited_message", "callback_query", "my_chat_member")
"""The update types Telegram should send; the channel copes with any other type too."""
RETRY_DELAYS: tuple[float, ...] = (5, 10, 30, 60, 120, 300)
"""Seconds between start attempts while the Bot API cannot be reached (the last one repeats)."""
SETTLE_SECONDS = 30.0
"""How long a webhook request waits for its update's message to be stored before answering
503 (Telegram then delivers it again; the router recognises it if it was stored after all)."""
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN_LOGGERS = (
    "httpx",
    "telegram.Bot",
    "telegram.HTTPXRequest",
    "telegram.ext",
    "telegram.ext.Application",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
)

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramConfigError(ConfigError, ConfFileError):
    """A Telegram setting is wrong: both a settings and a configuration-file error, so that
    whichever of the two the entry point catches, it reports it instead of a traceback."""


class RedactToken(logging.Filter):
    """Replaces the bot token (it is part of every Bot API URL) in log records."""

    def __init__(self, token: str) -> None:
        super().__init__()
        secret = token.partition(":")[2]
        self._parts = [p for p in (token, secret) if len(p) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(part in message for part in self._parts):
            for part in self._parts:
                message = message.replace(part, "<bot-token>")
            record.msg, record.args = message, None
        return True


def check_settings(settings: GatewaySettings) -> str | None:
    """Validate the Telegram settings; return the webhook route's path (None: long polling)."""
    url = settings.telegram_webhook_url
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TelegramConfigError(f"TELEGRAM_WEBHOOK_URL must be an https:// URL, got {url!r}")
    secret = settings.telegram_webhook_secret
    if not secret or _SECRET.fullmatch(secret) is None:
        raise TelegramConfigError(
            "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters A-Z, a-z, 0-9, _ or -"
            " (e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return parts.path or "/"


def build_application(settings: GatewaySettings) -> TelegramApplication:
    """The python-telegram-bot application, without its Updater: updates come from our own
    `Poller` or the webhook route, which confirm them only once stored."""
    if not settings.telegram_token:
        raise TelegramConfigError("TELEGRAM_BOT_TOKEN is not set")
    # time periods as timedelta (python-telegram-bot 22's opt-in, its next major's default):
    # reading a 429's retry_after as an int warns, even inside RetryAfter's own constructor
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    builder = ApplicationBuilder().token(settings.telegram_token).concurrent_updates(64)
    base = log_api_root(settings.telegram_api_base_url)
    if base:
        builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
    return builder.updater(None).build()


class TelegramService:
    """One bot: its python-telegram-bot application, the channel and the webhook route."""

    def __init__(
        self,
        settings: GatewaySettings,
        config: TelegramConfig,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.settings = settings
        self.config = config
        self.webhook_path = check_settings(settings)
        self.application = build_application(settings)
        self.channel = TelegramChannel(self.application.bot, config)
        self.poller: Poller | None = None
        if self.webhook_path is None:
            self.poller = Poller(
                self.application,
                self.channel,
                timeout=config.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
            )
        self.application.add_handler(TypeHandler(Update, self.channel.on_update))
        self.application.add_error_handler(self.channel.on_error)
        self._retry_delays = tuple(retry_delays) or RETRY_DELAYS
        self._retry: asyncio.Task[None] | None = None
        self._redact = RedactToken(settings.telegram_token or "")
        self._replicas: Replicas | None = None
        self._lease: Lease | None = None
        """Several gateway replicas: long polling runs in the one holding this lease (Telegram
        answers a second getUpdates of the bot with 409 Conflict)."""

    @property
    def running(self) -> bool:
        return self.channel.connected

    # --------------------------------------------------------------------------- life cycle

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: start with the gateway, stop cleanly with it."""
        router = app[ROUTER]
        self._replicas = app.get(REPLICAS)
        self.channel.router = router
        router.register(self.channel)
        for name in _TOKEN_LOGGERS:
            logging.getLogger(name).addFilter(self._redact)
        try:
            try:
                await self._start()
            except InvalidToken:
                raise TelegramConfigError(await self._refusal()) from None
            except (NetworkError, RetryAfter) as error:
                logger.error(
                    "Telegram Bot API unreachable (%s): the gateway runs without Telegram and"
                    " retries in the background",
                    error,
                )
                self._retry = asyncio.create_task(self._start_later(), name="telegram-start")
            yield
        finally:
            if self._retry is not None:
                self._retry.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._retry
            await self._stop()
            for name in _TOKEN_LOGGERS:
                logging.getLogger(name).removeFilter(self._redact)

    async def _start(self) -> None:
        app = self.application
        try:
            await app.initialize()
            if self.webhook_path is not None:
                await app.bot.set_webhook(
                    url=self.settings.telegram_webhook_url or "",
                    secret_token=self.settings.telegram_webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            await app.start()
            self.channel.connected = True
            if self.poller is not None:
                await app.bot.delete_webhook()  # Telegram refuses getUpdates while one is set
                self._start_polling(self.poller)
        except BaseException:
            await self._stop()
            raise
        mode = "webhook " + (self.webhook_path or "") if self.webhook_path else "long polling"
        logger.info("Telegram channel running as @%s (%s)", app.bot.username, mode)

    def _start_polling(self, poller: Poller) -> None:
        """Poll now, or, with several replicas, whenever this one holds the polling lease."""
        if self._replicas is None:
            poller.start()
            return

        async def start() -> None:
            poller.start()

        self._lease = self._replicas.in_one_replica("telegram-polling", start, poller.stop)

    async def _start_later(self) -> None:
        for delay in itertools.chain(self._retry_delays, itertools.repeat(self._retry_delays[-1])):
            await asyncio.sleep(delay)
            try:
                await self._start()
                return
            except InvalidToken:
                logger.error("%s: the Telegram channel stays off", await self._refusal())
                return
            except TelegramError as error:
                logger.warning("Telegram Bot API still unreachable: %s", error)

    async def _refusal(self) -> str:
        """Why the Bot API refused the bot: the base URL or the token (startup.py)."""
        token = self.settings.telegram_token or ""
        root = api_root(self.settings.telegram_api_base_url)
        return refusal(await get_me_status(root, token), root, token)

    async def _stop(self) -> None:
        """No new updates; those being handled finish (their replies still go out); then the
        bot is closed."""
        app = self.application
        steps: list[tuple[str, Any]] = []
        lease, self._lease = self._lease, None
        if lease is not None:
            steps.append(("give the polling lease back", lease.stop))
        if self.poller is not None and self.poller.running:
            steps.append(("stop polling", self.poller.stop))
        if app.running:
            steps.append(("stop", app.stop))
        steps += [
            ("disconnect", self._disconnect),
            ("shut down", app.shutdown),
            ("close the bot", app.bot.shutdown),
        ]
        for what, step in steps:
            try:
                await step()
            except Exception as error:  # shutting down: log and carry on with the next step
                logger.warning("Telegram channel: cannot %s: %s", what, error)

    async def _disconnect(self) -> None:
        self.channel.connected = False  # later sends fail at once (the router retries them)

    # ------------------------------------------------------------------------------ webhook

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: check the secret, queue the update, answer once its message is
        stored (200; 503 when it could not be: Telegram delivers it again)."""
        expected = (self.settings.telegram_webhook_secret or "").encode()
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            logger.warning("Telegram webhook: request without the right secret refused")
            return web.Response(status=403, text="forbidden")
        try:
            payload = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError, RecursionError):  # Recursion: [[[[...
            return web.Response(status=400, text="malformed JSON")
        update_id = payload.get("update_id") if isinstance(payload, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="not a Telegram update")
        if not self.running:
            return web.Response(status=503, text="starting")  # Telegram delivers it again later
        try:
            update = Update.de_json(payload, self.application.bot)
        except Exception as error:
            # From Telegram (the secret matched) but not understood: drop it rather than have
            # Telegram redeliver it forever and hold back the updates behind it.
            logger.warning("Telegram webhook: update %s not understood: %r", update_id, error)
            return web.Response(status=200)
        settled = self.channel.expect(update_id)
        await self.application.update_queue.put(update)
        try:
            confirm = await asyncio.wait_for(asyncio.shield(settled), SETTLE_SECONDS)
        except TimeoutError:
            confirm = False
        if not confirm:
            return web.Response(status=503, text="not stored yet")  # delivered again later
        return web.Response(status=200)
