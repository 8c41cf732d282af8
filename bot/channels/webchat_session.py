"""One web chat websocket's life (protocol: docs/webchat.md): read frames, answer protocol
errors at once, count every hello and message against the client address's limit, and hand
messages to a worker so the router is called in order without blocking the reading.

Over the limit (RATE_LIMIT_WEBCHAT, bot/limits.py) a frame is answered with a `rate_limited`
error in the customer's language (conf/gateway.yml) and `retry_after` seconds, and the message
is neither stored nor processed. A message in Rasa's command syntax that no button of the bot
offered is passed on as plain text (bot/commands.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType

from bot.channels.base import MessageHandler
from bot.channels.webchat_channel import (
    CHANNEL_NAME,
    Socket,
    WebChatChannel,
    error_event,
    history_event,
    reply_event,
)
from bot.channels.webchat_static import StaticFiles
from bot.clientaddr import limit_key
from bot.commands import screened
from bot.limits import ChannelLimiters
from bot.messages import HandleResult, Inbound, TranscriptEntry, client_metadata
from bot.settings import GatewaySettings
from bot.texts import GatewayTexts

log = logging.getLogger(__name__)

UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""Session and message ids: what `crypto.randomUUID()` produces (36 characters, lower-case)."""
LANGUAGES: Final = frozenset({"zh", "en"})
HISTORY_LIMIT: Final = 200
MAX_QUEUED: Final = 20
"""Messages of one socket waiting for the router; more are refused with a 'busy' error."""


@dataclass
class WebChatState:
    """Per-application state, filled at start-up."""

    channel: WebChatChannel
    limiters: ChannelLimiters
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    static: StaticFiles | None = None
    router: MessageHandler | None = None
    texts: GatewayTexts | None = None
    """conf/gateway.yml (the rate_limited notice), read at start-up."""


@dataclass(frozen=True)
class _Message:
    id: str
    text: str
    language: str


_STOP: Final = None


class Session:
    """One websocket's life: read frames, answer protocol errors at once, and hand messages to
    a worker so the router is called in order without blocking the reading."""

    def __init__(self, state: WebChatState, router: MessageHandler, sock: Socket) -> None:
        self.state = state
        self.router = router
        self.sock = sock
        self.channel = state.channel
        self.queue: asyncio.Queue[_Message | None] = asyncio.Queue()

    async def run(self) -> None:
        # The worker is not this handler's child: if the connection drops (aiohttp may cancel
        # the handler then), what the customer already sent is still handled and its replies
        # reach the session's other tabs.
        self.channel.track(self.sock)
        self.channel.spawn(self._work())
        try:
            await self._read()
        finally:
            self.channel.detach(self.sock)
            self.queue.put_nowait(_STOP)

    def _error(self, code: str, **extra: Any) -> dict[str, Any]:
        return error_event(code, self.sock.language, **extra)

    async def _read(self) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "hello": self._on_hello,
            "message": self._on_message,
        }
        async for frame in self.sock.ws:
            if frame.type == WSMsgType.BINARY:
                await self.sock.emit(self._error("binary"))
                continue
            if frame.type != WSMsgType.TEXT:  # ERROR (e.g. a frame over max_msg_size: 1009)
                log.info("web chat: socket error: %s", self.sock.ws.exception())
                break
            try:
                data = json.loads(frame.data)
            except (ValueError, RecursionError):  # RecursionError: nested too deep ([[[[...)
                await self.sock.emit(self._error("bad_json"))
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            handler = handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                await self.sock.emit(self._error("bad_frame"))
                continue
            if await self._throttled(data):
                continue
            await handler(data)

    async def _throttled(self, data: Mapping[str, Any]) -> bool:
        """Whether the frame is over the client address's limit (then answered, not handled)."""
        limiters = self.state.limiters
        wait = await limiters.check("webchat", limiters.webchat, limit_key(self.sock.address))
        if not wait:
            return False
        log.warning("web chat: %s over the rate limit; refused for %d s", self.sock.address, wait)
        event: dict[str, Any] = {"type": "error", "code": "rate_limited", "retry_after": wait}
        texts = self.state.texts
        language = self._language(data) or self.sock.language
        event["message"] = texts.reply("rate_limited", language, seconds=wait) if texts else ""
        message_id = data.get("id") if data.get("type") == "message" else None
        if isinstance(message_id, str) and UUID_RE.fullmatch(message_id):
            event["id"] = message_id
        await self.sock.emit(event)
        return True

    def _language(self, data: Mapping[str, Any]) -> str | None:
        """The frame's language, the socket's if absent; None when invalid."""
        language = data.get("language", self.sock.language)
        return language if isinstance(language, str) and language in LANGUAGES else None

    async def _on_hello(self, data: dict[str, Any]) -> None:
        sock = self.sock
        language = self._language(data)
        if language is None:
            await sock.emit(self._error("bad_language"))
            return
        sock.language = language
        session = data.get("session")
        if not isinstance(session, str) or not UUID_RE.fullmatch(session):
            await sock.emit(self._error("bad_session"))
            return
        if sock.session is not None:
            if session != sock.session:
                await sock.emit(self._error("session_change"))
            return  # a repeated hello only updates the language
        if not self.channel.attach(sock, session):
            await sock.emit(self._error("too_many_tabs"))
            await sock.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"too many tabs")
            return
        sock.session = session

        async def show(entries: list[TranscriptEntry]) -> None:
            await sock.emit(history_event(entries))
            sock.shown = True

        try:  # while no reply of the conversation is stored or pushed (e.g. by a retry)
            await self.router.show_history(f"{CHANNEL_NAME}:{session}", HISTORY_LIMIT, show)
        except Exception:
            log.exception("web chat: history of session %s failed", session)
            await sock.emit(history_event([]), self._error("history"))
            sock.shown = True

    async def _on_message(self, data: dict[str, Any]) -> None:
        sock = self.sock
        message_id = data.get("id")
        if not isinstance(message_id, str) or not UUID_RE.fullmatch(message_id):
            await sock.emit(self._error("bad_id"))
            return
        if sock.session is None:
            await sock.emit(self._error("no_hello", id=message_id))
            return
        language = self._language(data)
        if language is None:
            await sock.emit(self._error("bad_language", id=message_id))
            return
        text = data.get("text")
        if not isinstance(text, str):
            await sock.emit(self._error("bad_frame", id=message_id))
            return
        text = text.strip()
        limit = self.state.settings.max_text_chars
        if not text:
            await sock.emit(self._error("empty", id=message_id))
        elif len(text) > limit:
            await sock.emit(self._error("too_long", id=message_id, limit=limit))
        elif self.queue.qsize() >= MAX_QUEUED:
            await sock.emit(self._error("busy", id=message_id))
        else:
            self.queue.put_nowait(_Message(message_id, text, language))

    async def _work(self) -> None:
        while (message := await self.queue.get()) is not _STOP:
            try:
                await self._process(message)
            except Exception:  # never let one message stop the others
                log.exception("web chat: delivering to session %s failed", self.sock.session)

    async def _process(self, message: _Message) -> None:
        sock = self.sock
        session = sock.session
        assert session is not None
        await sock.emit({"type": "typing"})
        try:
            inbound = Inbound(
                channel=CHANNEL_NAME,
                chat_id=session,
                user_id=session,
                text=await screened(self.router, f"{CHANNEL_NAME}:{session}", message.text),
                external_id=message.id,
                language=message.language,
                metadata=client_metadata(limit_key(sock.address)),
            )
            result = await self.router.handle(inbound)
        except Exception:
            log.exception("web chat: the router failed on a message of session %s", session)
            await sock.emit(self._error("unavailable", id=message.id))
            return
        await self._deliver(session, message.id, result)

    async def _deliver(self, session: str, message_id: str, result: HandleResult) -> None:
        ack: dict[str, Any] = {"type": "ack", "id": message_id}
        if result.duplicate:
            ack["duplicate"] = True
        if result.degraded:
            ack["degraded"] = True
        replies = [] if result.duplicate else [reply_event(r) for r in result.replies]
        if await self.sock.emit(ack, *replies):
            return
        # The tab closed while the router worked (e.g. a reconnect): its other or new tabs
        # get the replies; the resent message will be a duplicate and answer nothing new.
        if replies:
            await self.channel.push(session, replies, exclude=self.sock)
