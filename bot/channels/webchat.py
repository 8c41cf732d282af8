"""The web chat: a page, its static assets and a websocket speaking a small JSON protocol.

`setup(app)` registers

- ``GET /``: the chat page (``bot/static/index.html``, with a strict Content-Security-Policy),
- ``GET /static/<name>``: the page's assets (a fixed list, no directory listing),
- ``GET /ws``: the websocket (protocol: docs/webchat.md),

and a `WebChatChannel` (name ``web``) that is registered with the router (``app[ROUTER]``) at
start-up. A browser keeps a random session id in localStorage; its conversation id is
``web:<session id>``. Several tabs of one session may be open: `WebChatChannel.send` pushes to
all of them, the replies to a message go back over the socket that sent it.

Every hello and message frame counts against its client address (RATE_LIMIT_WEBCHAT,
bot/limits.py); over the limit the frame is answered with a `rate_limited` error in the
customer's language (conf/gateway.yml) and `retry_after` seconds, and the message is neither
stored nor processed. A message in Rasa's command syntax that no button of the bot offered is
passed on as plain text (bot/commands.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from bot import health, limits
from bot.channels.base import Channel, MessageHandler
from bot.clientaddr import client_ip, limit_key
from bot.commands import screened
from bot.keys import ROUTER, SETTINGS
from bot.limits import ChannelLimiters
from bot.messages import HandleResult, Inbound, Reply, TranscriptEntry, client_metadata
from bot.settings import GatewaySettings, normalise_origin
from bot.texts import GatewayTexts, load_texts
from store.config import default_conf_dir

log = logging.getLogger(__name__)

CHANNEL_NAME: Final = "web"
UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""Session and message ids: what `crypto.randomUUID()` produces (36 characters, lower-case)."""
LANGUAGES: Final = frozenset({"zh", "en"})
HEARTBEAT_SECONDS: Final = 25.0
"""The server pings every 25 s and drops a socket whose pong is 12.5 s late."""
HISTORY_LIMIT: Final = 200
MAX_TABS: Final = 8
"""Open sockets per session; one more is refused (protects memory, not a business rule)."""
MAX_QUEUED: Final = 20
"""Messages of one socket waiting for the router; more are refused with a 'busy' error."""
SEND_TIMEOUT_SECONDS: Final = 10.0
"""A socket that cannot take an event for this long (a stalled client) is closed."""

ASSETS: Final[Mapping[str, str]] = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
"""The only files served under /static/, with their Content-Type."""
PAGE: Final = "index.html"

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


def max_frame_bytes(max_text_chars: int) -> int:
    """Room for a message of `max_text_chars` characters even if every one is escaped (\\uXXXX)."""
    return max(16 * 1024, 6 * max_text_chars + 1024)


def origin_allowed(origin: str | None, host: str, allowed: Iterable[str] = ()) -> bool:
    """A browser's websocket may come from the gateway's own host or from `allowed` origins.

    No Origin header: not a browser (browsers always send it with a websocket), so no risk of
    cross-site websocket hijacking; such clients are let in like any API client.
    """
    if origin is None:
        return True
    normalised = normalise_origin(origin)
    if normalised is None:  # "null" (sandboxed frames, file://) or garbage
        return False
    if normalised in allowed:
        return True
    scheme, _, netloc = normalised.partition("://")
    host = host.strip().lower()
    default = ":443" if scheme == "https" else ":80"
    if host.endswith(default):
        host = host[: -len(default)]
    return bool(host) and netloc == host


# --- the channel ------------------------------------------------------------------------------


class _Socket:
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
        self._sockets: dict[str, set[_Socket]] = {}
        """Sockets that said hello, by session."""
        self._open: set[_Socket] = set()
        """Every open socket, hello or not (to close them all at shutdown)."""
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open_sockets(self, chat_id: str) -> int:
        return len(self._sockets.get(chat_id, ()))

    def _attach(self, sock: _Socket, chat_id: str) -> bool:
        tabs = self._sockets.setdefault(chat_id, set())
        if len(tabs) >= MAX_TABS:
            return False
        tabs.add(sock)
        return True

    def _detach(self, sock: _Socket) -> None:
        self._open.discard(sock)
        if sock.session is None:
            return
        tabs = self._sockets.get(sock.session)
        if tabs is not None:
            tabs.discard(sock)
            if not tabs:
                del self._sockets[sock.session]

    async def _push(
        self, chat_id: str, events: Sequence[Mapping[str, Any]], exclude: _Socket | None = None
    ) -> int:
        """Send to every open tab of the session that has its history; how many took it."""
        tabs = [s for s in self._sockets.get(chat_id, ()) if s.shown and s is not exclude]
        results = await asyncio.gather(*(s.emit(*events) for s in tabs))
        return sum(results)

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        delivered = await self._push(chat_id, [reply_event(r) for r in replies])
        if not delivered:
            log.info("web chat: no open tab for session %s; the transcript keeps it", chat_id)

    async def typing(self, chat_id: str) -> None:
        await self._push(chat_id, [{"type": "typing"}])

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


# --- static files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    body: bytes
    etag: str
    content_type: str


@dataclass
class _Static:
    """The page and its assets, read into memory; re-read when a file changed (on page loads)."""

    directory: Path
    max_text_chars: int
    files: dict[str, _File] = field(default_factory=dict)
    version: str = ""
    _stamp: tuple[tuple[str, int, int], ...] = ()

    def refresh(self) -> None:
        names = [PAGE, *ASSETS]
        stamp = tuple(
            (n, (st := (self.directory / n).stat()).st_mtime_ns, st.st_size) for n in names
        )
        if stamp == self._stamp:
            return
        raw = {n: (self.directory / n).read_bytes() for n in names}
        digest = hashlib.sha256()
        for name in ASSETS:
            digest.update(raw[name])
        version = digest.hexdigest()[:12]
        page = (
            raw[PAGE]
            .decode("utf-8")
            .replace("{{version}}", version)
            .replace("{{max_text_chars}}", str(self.max_text_chars))
            .encode("utf-8")
        )
        files = {n: _File(raw[n], _etag(raw[n]), t) for n, t in ASSETS.items()}
        files[PAGE] = _File(page, _etag(page), "text/html; charset=utf-8")
        self.files, self.version, self._stamp = files, version, stamp


def _etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:20]}"'


_HOST_RE: Final = re.compile(r"[a-z0-9.\-]+(:\d{1,5})?|\[[0-9a-f:.]+\](:\d{1,5})?")


def content_security_policy(host: str, frame_origins: Sequence[str]) -> str:
    connect = ["'self'"]
    ancestors = " ".join(["'self'", *frame_origins])
    host = host.lower()
    if _HOST_RE.fullmatch(host):  # spelled out for browsers whose 'self' does not cover ws:
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {ancestors}",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    )


def _security_headers(response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"


def _file_response(request: web.Request, file: _File, cache_control: str) -> web.Response:
    if file.etag in request.headers.get(hdrs.IF_NONE_MATCH, ""):
        response = web.Response(status=304)
    else:
        response = web.Response(body=file.body)
        response.headers[hdrs.CONTENT_TYPE] = file.content_type
    response.headers[hdrs.ETAG] = file.etag
    response.headers[hdrs.CACHE_CONTROL] = cache_control
    _security_headers(response)
    return response


# --- the application's side -------------------------------------------------------------------


@dataclass
class _WebChat:
    """Per-application state, filled at start-up."""

    channel: WebChatChannel
    limiters: ChannelLimiters
    settings: GatewaySettings = field(default_factory=GatewaySettings)
    static: _Static | None = None
    router: MessageHandler | None = None
    texts: GatewayTexts | None = None
    """conf/gateway.yml (the rate_limited notice), read at start-up."""


WEBCHAT: Final = web.AppKey("webchat", _WebChat)


def setup(app: web.Application) -> None:
    """Register the web chat's routes and its channel (registered with app[ROUTER] at start-up).

    app[ROUTER] must exist when the application starts: set it in `create_app`, in a
    cleanup context, or in an on_startup handler appended before this call.
    """
    state = _WebChat(channel=WebChatChannel(), limiters=limits.setup(app))
    app[WEBCHAT] = state
    health.add_detail(app, "webchat_sockets", lambda: len(state.channel._open))
    app.router.add_get("/", _page, name="webchat-page")
    app.router.add_get("/static/{name}", _asset, name="webchat-static")
    app.router.add_get("/ws", _websocket, name="webchat-ws")
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)


def channel_of(app: web.Application) -> WebChatChannel:
    return app[WEBCHAT].channel


async def _on_startup(app: web.Application) -> None:
    state = app[WEBCHAT]
    state.settings = app.get(SETTINGS) or GatewaySettings()
    static = _Static(state.settings.static_dir, state.settings.max_text_chars)
    await asyncio.to_thread(static.refresh)
    state.static = static
    state.texts = await asyncio.to_thread(load_texts, state.settings.conf_dir or default_conf_dir())
    if ROUTER not in app:
        raise RuntimeError(
            "web chat: app[ROUTER] is not set at start-up; set it before the application starts"
        )
    state.router = app[ROUTER]
    state.router.register(state.channel)


async def _on_shutdown(app: web.Application) -> None:
    state = app[WEBCHAT]
    await state.channel.close_all(grace_seconds=state.settings.rasa_timeout + 5)


def _static(request: web.Request) -> _Static:
    static = request.app[WEBCHAT].static
    if static is None:
        raise web.HTTPServiceUnavailable(text="starting")
    return static


async def _page(request: web.Request) -> web.Response:
    static = _static(request)
    await asyncio.to_thread(static.refresh)  # picks up edited files without a restart
    settings = request.app[WEBCHAT].settings
    response = _file_response(request, static.files[PAGE], "no-cache")
    response.headers["Content-Security-Policy"] = content_security_policy(
        request.host, settings.allowed_origins
    )
    if not settings.allowed_origins:
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


async def _asset(request: web.Request) -> web.Response:
    static = _static(request)
    file = static.files.get(request.match_info["name"])
    if file is None or request.match_info["name"] == PAGE:
        raise web.HTTPNotFound()
    if request.query.get("v") == static.version:  # the page's versioned link: cache for good
        cache = "public, max-age=31536000, immutable"
    else:
        cache = "no-cache"
    return _file_response(request, file, cache)


async def _websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[WEBCHAT]
    if state.router is None:
        raise web.HTTPServiceUnavailable(text="starting")
    origin = request.headers.get(hdrs.ORIGIN)
    if not origin_allowed(origin, request.host, state.settings.allowed_origins):
        log.warning("web chat: websocket from a foreign origin refused: %s", origin)
        raise web.HTTPForbidden(text="origin not allowed")
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS,
        max_msg_size=max_frame_bytes(state.settings.max_text_chars),
    )
    await ws.prepare(request)
    await _Session(state, state.router, _Socket(ws, client_ip(request))).run()
    return ws


@dataclass(frozen=True)
class _Message:
    id: str
    text: str
    language: str


_STOP: Final = None


class _Session:
    """One websocket's life: read frames, answer protocol errors at once, and hand messages to
    a worker so the router is called in order without blocking the reading."""

    def __init__(self, state: _WebChat, router: MessageHandler, sock: _Socket) -> None:
        self.state = state
        self.router = router
        self.sock = sock
        self.channel = state.channel
        self.queue: asyncio.Queue[_Message | None] = asyncio.Queue()

    async def run(self) -> None:
        # The worker is not this handler's child: if the connection drops (aiohttp may cancel
        # the handler then), what the customer already sent is still handled and its replies
        # reach the session's other tabs.
        self.channel._open.add(self.sock)
        self.channel._spawn(self._work())
        try:
            await self._read()
        finally:
            self.channel._detach(self.sock)
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
        wait = limiters.check("webchat", limiters.webchat, limit_key(self.sock.address))
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
        if not self.channel._attach(sock, session):
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
            await self.channel._push(session, replies, exclude=self.sock)
