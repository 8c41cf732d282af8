"""The server configuration's URL (conf/wechat.yml `path`): WeChat's GET that verifies it,
and the POST of every message and event.

Every request's `signature` (SHA-1 of the Token, timestamp and nonce) is checked first: a
wrong one is refused (403) and logged, nothing is read or stored. The body is then opened as
the security mode says (envelope.py: 400 when it is not a WeChat message, 413 above
GATEWAY_MAX_BODY_BYTES), read (mapping.py) and handed to the router, which stores it (a
redelivery is recognised by its key and processed once) and sends the replies through the
channel: into this request's passive reply while it waits (passive.py), else as
customer-service messages after this request answered "success". A customer who wrote opens
WeChat's window again: their outage notices held for it are sent next (`_wake_held`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.channels.base import MessageHandler
from bot.channels.wechat.buttons import choice_of, chosen_payload
from bot.channels.wechat.channel import WeChatChannel
from bot.channels.wechat.config import WeChatConfig
from bot.channels.wechat.crypto import signature_ok
from bot.channels.wechat.envelope import (
    EnvelopeError,
    Envelopes,
    Opened,
    SignatureError,
    render_xml,
)
from bot.channels.wechat.mapping import (
    Ignore,
    NotAMessage,
    Notice,
    Route,
    WeChatMessage,
    classify,
    read_message,
)
from bot.channels.wechat.passive import PassiveSlots
from bot.clientaddr import client_ip
from bot.commands import WINDOW, screened
from bot.messages import Inbound, Reply
from store.configuration.yamlfile import Label
from store.db import in_thread
from store.services import wechat

if TYPE_CHECKING:
    from bot.channels.wechat.followers import Followers

log = logging.getLogger(__name__)

SUCCESS = "success"
"""WeChat's "received, nothing to say now" (an empty body means the same)."""
STORE_GRACE = 15.0
"""Seconds a message not yet stored when the passive time is up may still take (WeChat has
retried by then; answering 503 instead of "success" keeps a failed store from being lost)."""


class Webhook:
    def __init__(
        self,
        config: WeChatConfig,
        envelopes: Envelopes,
        token: str,
        channel: WeChatChannel,
        passive: PassiveSlots,
        followers: Followers,
    ) -> None:
        self._config = config
        self._envelopes = envelopes
        self._token = token
        self._channel = channel
        self._passive = passive
        self._followers = followers
        self.router: MessageHandler | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        """Turns still running after their request answered (waited for at shutdown)."""

    def _signed(self, request: web.Request) -> bool:
        query = request.query
        given = query.get("signature", "")
        stamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if given and stamp and nonce and signature_ok(given, self._token, stamp, nonce):
            return True
        log.warning("WeChat: request with a wrong signature from %s refused", client_ip(request))
        return False

    async def verify(self, request: web.Request) -> web.Response:
        """GET: WeChat checks the URL; the echostr goes back when the signature is right."""
        if not self._signed(request):
            return web.Response(status=403, text="forbidden")
        return web.Response(text=request.query.get("echostr", ""))

    async def receive(self, request: web.Request) -> web.Response:
        """POST: one message or event."""
        if not self._signed(request):
            return web.Response(status=403, text="forbidden")
        body = await request.read()  # over the gateway's body limit: 413 before this
        try:
            opened = self._envelopes.open(body, request.query)
            message = read_message(opened.fields)
        except SignatureError:
            log.warning("WeChat: message with a wrong msg_signature from %s", client_ip(request))
            return web.Response(status=403, text="forbidden")
        except (EnvelopeError, NotAMessage) as exc:
            log.info("WeChat: a body that is not a message refused: %s", exc)
            return web.Response(status=400, text="not a WeChat message")
        return await self._dispatch(request, opened, message)

    async def _dispatch(
        self, request: web.Request, opened: Opened, message: WeChatMessage
    ) -> web.Response:
        event = message.event.lower() if message.msg_type == "event" else ""
        if event in ("subscribe", "unsubscribe"):
            await self._followers.record(message, subscribed=event == "subscribe")
        action = classify(message, self._config)
        if isinstance(action, Ignore):
            log.info("WeChat %s: %s: nothing to answer", message.key, action.why)
            return _success()
        if isinstance(action, Notice):
            log.info("WeChat %s (%s): answered by the channel", message.key, message.msg_type)
            return self._passive_reply(message, _zh(action.text), opened.encrypted)
        return await self._route(request, opened, message, action)

    async def _route(
        self, request: web.Request, opened: Opened, message: WeChatMessage, action: Route
    ) -> web.Response:
        inbound = action.inbound if action.trusted else await self._customer_text(action.inbound)
        slot = self._passive.open(message.openid)
        stored = asyncio.Event()
        turn = asyncio.create_task(self._handle(inbound, stored))
        self.tasks.add(turn)
        turn.add_done_callback(self.tasks.discard)
        try:
            await _first(self._config.passive_reply_seconds, turn, slot.sealed.wait())
            if not stored.is_set():  # not even stored yet: give it a little longer
                await _first(STORE_GRACE, turn, stored.wait())
            if not stored.is_set():
                return web.Response(status=503, text="not stored")  # WeChat delivers it again
            text = "" if _gone(request) else self._passive.take(slot)
            if not text:
                return _success()
            return self._passive_reply(message, text, opened.encrypted)
        finally:
            # replies of a request WeChat gave up on (or that was cut short) go another way
            left = self._passive.take(slot)
            self._passive.close(slot)
            if left:
                self._spawn(self._channel.send_out(message.openid, Reply(text=left), left))

    async def _customer_text(self, inbound: Inbound) -> Inbound:
        """A typed (or spoken) text as it goes to the router: a digit answering the offered
        buttons (or a msgmenu tap) becomes the button's payload; Rasa's command syntax only
        from a button the bot offered (bot/commands.py)."""
        router = self._require_router()
        cid = inbound.conversation_id
        menu_id = str(inbound.metadata.get("wechat_menu_id", ""))
        number = int(menu_id) if menu_id.isdigit() else choice_of(inbound.text)
        if number is not None:
            payload = chosen_payload(await router.history(cid, WINDOW), number)
            if payload is not None:
                return replace(inbound, text=payload)
        return replace(inbound, text=await screened(router, cid, inbound.text))

    async def _handle(self, inbound: Inbound, stored: asyncio.Event) -> None:
        """The router's turn; it sends the replies through the channel itself (`push`)."""
        router = self._require_router()
        try:
            result = await router.handle(inbound, on_stored=stored.set, push=True)
        except Exception:
            state = "stored" if stored.is_set() else "not stored: WeChat delivers it again"
            log.exception("WeChat %s: the router failed (%s)", inbound.external_id, state)
            return
        if result.duplicate:
            log.info("WeChat %s was delivered again: processed once", inbound.external_id)
            return
        if not result.delivered:  # a router that leaves the sending to the channel
            await self._channel.send(inbound.chat_id, result.replies)
        await self._wake_held(inbound.conversation_id)

    async def _wake_held(self, conversation_id: str) -> None:
        """The customer's outage notices held for WeChat's window (or their used-up count)
        are due now, after the answer to what they wrote. Best effort: else they are tried
        again after conf/outages.yml `delivery.held.retry_minutes`."""
        factory = self._channel.factory
        if factory is None:
            return
        now = datetime.now(UTC)
        try:
            woken = await in_thread(
                factory, lambda s: wechat.wake_held_notices(s, conversation_id, now=now)
            )
        except Exception:
            log.exception("%s: held outage notices not woken", conversation_id)
            return
        if woken:
            log.info("%s wrote: %d held outage notices are due", conversation_id, woken)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_log_failure)

    def _require_router(self) -> MessageHandler:
        if self.router is None:
            raise RuntimeError("WeChat channel has no router")
        return self.router

    def _passive_reply(self, message: WeChatMessage, text: str, encrypted: bool) -> web.Response:
        reply = render_xml(
            {
                "ToUserName": message.openid,
                "FromUserName": message.fields.get("ToUserName", ""),
                "CreateTime": int(time.time()),
                "MsgType": "text",
                "Content": text,
            }
        )
        body = self._envelopes.seal(reply, encrypted)
        return web.Response(text=body, content_type="application/xml")


def _zh(label: Label) -> str:
    """The channel's own notices are in Chinese: WeChat does not say the customer's language."""
    return label.zh


def _success() -> web.Response:
    return web.Response(text=SUCCESS)


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _first(seconds: float, turn: asyncio.Task[None], signal: Awaitable[object]) -> None:
    """Wait until the turn is done, `signal` came or `seconds` passed (the turn runs on)."""
    waiter = asyncio.ensure_future(signal)
    try:
        await asyncio.wait({turn, waiter}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("WeChat: a late reply could not be sent: %s", task.exception())
