"""The web chat's channel: the open websockets (browser tabs) of each session, and the JSON events
pushed to them (protocol: docs/webchat.md).

A browser keeps a random session id in localStorage; its conversation id is ``web:<session
id>``. Several tabs of one session may be open: `WebChatChannel.send` pushes to all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, Final

from aiohttp import WSCloseCode, web

from bot.channels.base import Channel
from bot.messages import Reply, TranscriptEntry

log = logging.getLogger(__name__)

CHANNEL_NAME: Final = "web"
MAX_TABS: Final = 8
"""Open sockets per session; one more is refused (protects memory, not a business rule)."""
SEND_TIMEOUT_SECONDS: Final = 10.0
"""A socket that cannot take an event for this long (a stalled client) is closed."""

_ERRORS: Final[Mapping[str, tuple[str, str]]] = {
    "bad_json": ("无法识别的消息格式。", "The message could not be read."),
    "bad_frame": ("无法识别的消息。", "Unsupported message."),
    "binary": ("不支持二进制消息。", "Binary messages are not supported."),
    "bad_session": ("会话编号无效，请刷新页面。", "Invalid session, please reload the page."),
    "session_change": ("此连接已属于另一个会话。", "This connection belongs to another session."),
    "bad_language": ("不支持的语言。", "Unsupported language."),
    "no_hello": ("连接尚未就绪，请稍后再试。", "The connection is not ready yet."),
    "bad_id": ("消息编号无效。", "Invalid message id."),
    "empty": ("请输入内容。", "Please type a message."),
    "too_long": ("消息过长，请精简到 {limit} 字以内。", "Too long: at most {limit} characters."),
    "busy": ("消息太多，请稍候再发。", "Too many messages, please wait a moment."),
    "too_many_tabs": ("打开的窗口太多，请关闭一些后刷新。", "Too many open windows."),
    "unavailable": ("系统繁忙，请稍后再试。", "The service is busy, please try again later."),
    "history": ("暂时无法加载聊天记录。", "The chat history could not be loaded."),
}


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def reply_event(reply: Reply) -> dict[str, Any]:
    """``{"type": "reply", "text", "buttons": [{"title", "payload"}], ["image"]}``."""
    event: dict[str, Any] = {"type": "reply", **reply.as_json()}
    event.setdefault("buttons", [])
    return event


def history_event(entries: Iterable[TranscriptEntry]) -> dict[str, Any]:
    return {
        "type": "history",
        "messages": [
            {
                "direction": e.direction,
                "text": e.text,
                "buttons": [{"title": b.title, "payload": b.payload} for b in e.buttons],
                "at": e.at,
                "sender": e.sender,
            }
            for e in entries
        ],
    }


def error_event(code: str, language: str = "zh", **extra: Any) -> dict[str, Any]:
    zh, en = _ERRORS[code]
    text = en if language == "en" else zh
    limit = extra.pop("limit", None)
    if limit is not None:
        text = text.format(limit=limit)
    return {"type": "error", "code": code, "message": text, **extra}


Relay = Callable[[str, Sequence[Mapping[str, Any]]], Awaitable[None]]
"""Hand a session's events to the other gateway replicas."""


class Socket:
    """One open websocket (one browser tab) and what its hello told us."""

    def __init__(self, ws: web.WebSocketResponse, address: str = "unknown") -> None:
        self.ws = ws
        self.address = address
        """The client's address (bot/clientaddr.py): what the rate limit counts."""
        self.session: str | None = None
        self.language = "zh"
        self.shown = False
        """Whether its history was sent: replies pushed to the session reach it only from then
        on (one committed earlier is in that history: shown once, not twice)."""
        self._lock = asyncio.Lock()

    async def emit(self, *events: Mapping[str, Any]) -> bool:
        """Send events in order; False when the socket is gone (never raises for that)."""
        if self.ws.closed:
            return False
        try:
            async with self._lock:
                for event in events:
                    await asyncio.wait_for(
                        self.ws.send_str(_dumps(event)), timeout=SEND_TIMEOUT_SECONDS
                    )
        except (ConnectionError, TimeoutError):
            log.info("web chat: socket of session %s gone while sending", self.session)
            with contextlib.suppress(Exception):
                await self.ws.close(code=WSCloseCode.GOING_AWAY)
            return False
        return True


class WebChatChannel(Channel):
    """Keeps the open websockets per session and pushes events to them.

    Delivery is best effort by design: the router's transcript is the durable copy, and a
    browser that was closed gets every reply in its history event on its next visit. So
    `send` does not raise when no tab of the session is open (nothing to retry).
    """

    name = CHANNEL_NAME
    shows_history = True  # the router never sends a reply again after a crash: history has it

    def __init__(self) -> None:
        self.relay: Relay | None = None
        """Several gateway replicas: what `send` pushes goes to the others too, one of which
        may have the session's sockets (bot/replicas/bus.py)."""
        self._sockets: dict[str, set[Socket]] = {}
        """Sockets that said hello, by session."""
        self._open: set[Socket] = set()
        """Every open socket, hello or not (to close them all at shutdown)."""
        self._tasks: set[asyncio.Task[None]] = set()

    def track(self, sock: Socket) -> None:
        """An open socket (hello or not): closed at shutdown."""
        self._open.add(sock)

    def open_count(self) -> int:
        """Every open socket, hello or not."""
        return len(self._open)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Work that outlives its socket's handler (waited for, then cancelled, at shutdown)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open_sockets(self, chat_id: str) -> int:
        return len(self._sockets.get(chat_id, ()))

    def attach(self, sock: Socket, chat_id: str) -> bool:
        tabs = self._sockets.setdefault(chat_id, set())
        if len(tabs) >= MAX_TABS:
            return False
        tabs.add(sock)
        return True

    def detach(self, sock: Socket) -> None:
        self._open.discard(sock)
        if sock.session is None:
            return
        tabs = self._sockets.get(sock.session)
        if tabs is not None:
            tabs.discard(sock)
            if not tabs:
                del self._sockets[sock.session]

    async def push(
        self, chat_id: str, events: Sequence[Mapping[str, Any]], exclude: Socket | None = None
    ) -> int:
        """Send to every open tab of the session that has its history; how many took it."""
        tabs = [s for s in self._sockets.get(chat_id, ()) if s.shown and s is not exclude]
        results = await asyncio.gather(*(s.emit(*events) for s in tabs))
        return sum(results)

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        events = [reply_event(r) for r in replies]
        delivered = await self.push(chat_id, events)
        if self.relay is not None:
            await self.relay(chat_id, events)
        elif not delivered:
            log.info("web chat: no open tab for session %s; the transcript keeps it", chat_id)

    async def typing(self, chat_id: str) -> None:
        await self.push(chat_id, [{"type": "typing"}])

    async def close_all(self, grace_seconds: float = 20.0) -> None:
        """Close every socket (browsers reconnect to the next server), then give the messages
        already received `grace_seconds` to be handled; what is left is cancelled (the browser
        resends it: it was never acknowledged)."""
        going_away = WSCloseCode.GOING_AWAY
        await asyncio.gather(
            *(s.ws.close(code=going_away, message=b"server shutdown") for s in list(self._open)),
            return_exceptions=True,
        )
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
