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

The parts: `webchat_channel.py` (the channel, its sockets and the JSON events),
`webchat_session.py` (one websocket's frames, limits and worker), `webchat_static.py` (the
page, its assets and their headers); this module has the routes and the start and stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Final

from aiohttp import hdrs, web

from bot import health, limits
from bot.channels.webchat_channel import (
    CHANNEL_NAME,
    MAX_TABS,
    Socket,
    WebChatChannel,
    error_event,
    history_event,
    reply_event,
)
from bot.channels.webchat_session import UUID_RE, Session, WebChatState
from bot.channels.webchat_static import (
    ASSETS,
    PAGE,
    StaticFiles,
    content_security_policy,
    file_response,
)
from bot.clientaddr import client_ip
from bot.keys import REPLICAS, ROUTER, SETTINGS
from bot.settings import GatewaySettings, normalise_origin
from bot.texts import load_texts
from store.config import default_conf_dir

__all__ = [
    "ASSETS",
    "CHANNEL_NAME",
    "MAX_TABS",
    "UUID_RE",
    "WEBCHAT",
    "WebChatChannel",
    "channel_of",
    "content_security_policy",
    "error_event",
    "history_event",
    "max_frame_bytes",
    "origin_allowed",
    "reply_event",
    "setup",
]

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 25.0
"""The server pings every 25 s and drops a socket whose pong is 12.5 s late."""


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


WEBCHAT: Final = web.AppKey("webchat", WebChatState)


def setup(app: web.Application) -> None:
    """Register the web chat's routes and its channel (registered with app[ROUTER] at start-up).

    app[ROUTER] must exist when the application starts: set it in `create_app`, in a
    cleanup context, or in an on_startup handler appended before this call.
    """
    state = WebChatState(channel=WebChatChannel(), limiters=limits.setup(app))
    app[WEBCHAT] = state
    health.add_detail(app, "webchat_sockets", state.channel.open_count)
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
    static = StaticFiles(state.settings.static_dir, state.settings.max_text_chars)
    await asyncio.to_thread(static.refresh)
    state.static = static
    state.texts = await asyncio.to_thread(load_texts, state.settings.conf_dir or default_conf_dir())
    if ROUTER not in app:
        raise RuntimeError(
            "web chat: app[ROUTER] is not set at start-up; set it before the application starts"
        )
    state.router = app[ROUTER]
    state.router.register(state.channel)
    replicas = app.get(REPLICAS)
    if replicas is not None:  # a session's sockets may be on another replica
        state.channel.relay = replicas.bus.webchat
        replicas.bus.relay_webchat(state.channel.push)


async def _on_shutdown(app: web.Application) -> None:
    state = app[WEBCHAT]
    await state.channel.close_all(grace_seconds=state.settings.rasa_timeout + 5)


def _static(request: web.Request) -> StaticFiles:
    static = request.app[WEBCHAT].static
    if static is None:
        raise web.HTTPServiceUnavailable(text="starting")
    return static


async def _page(request: web.Request) -> web.Response:
    static = _static(request)
    await asyncio.to_thread(static.refresh)  # picks up edited files without a restart
    settings = request.app[WEBCHAT].settings
    response = file_response(request, static.files[PAGE], "no-cache")
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
    return file_response(request, file, cache)


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
    await Session(state, state.router, Socket(ws, client_ip(request))).run()
    return ws
