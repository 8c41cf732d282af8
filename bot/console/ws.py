"""GET /console/ws: the live feed of the console (events of bot/events.py as JSON frames).

Opened with the session cookie by the console page; a browser from another origin is refused
(403) before the upgrade. What each connection sees is bot/console/frames.py's business: an
agent the events of the chats assigned to them, the queue's changes and alerts; supervisors
and managers everything; operators summaries. Frames name conversations by handle and masked
id, never by id. The socket is read-only for the client (actions go through the JSON API,
with the CSRF token).

The socket never extends the session: it checks it without touching it, and closes with
`SESSION_ENDED` (4401) once the session is gone (logged out, idle, past its lifetime); the
page then shows the login.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import TYPE_CHECKING, Any, Final

from aiohttp import WSMsgType, hdrs, web

from bot.channels.webchat import origin_allowed
from bot.console import auth
from bot.console.frames import AgentFilter, HandleCache, staff_frame
from bot.console.state import CONSOLE, ConsoleState
from bot.events import Event
from bot.keys import EVENTS
from store.services import console_sessions, handoffs, transcripts
from store.services.console_sessions import StaffIdentity

__all__ = ["SESSION_ENDED", "AgentFilter", "websocket"]

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 25.0
SEND_TIMEOUT_SECONDS: Final = 10.0
SESSION_CHECK_SECONDS: Final = 60.0
"""How often an open socket checks that its session is still valid."""
SESSION_ENDED: Final = 4401
"""Close code when the session ended (the page goes to the login instead of reconnecting)."""


def _my_conversations(identity: StaffIdentity) -> Any:
    def work(session: Session) -> set[str]:
        return {
            h.conversation.conversation_id for h in handoffs.assigned_to(session, identity.user_id)
        }

    return work


async def _handle(state: ConsoleState, cache: HandleCache, conversation_id: str) -> int | None:
    handle = cache.get(conversation_id)
    if handle is None:
        handle = await state.db(lambda s: transcripts.conversation_pk(s, conversation_id))
        if handle is not None:
            cache.put(conversation_id, handle)
    return handle


async def _frame(state: ConsoleState, event: Event, wanted: AgentFilter) -> dict[str, Any]:
    cid = event.conversation_id
    handle = await _handle(state, state.handles, cid) if cid else None
    return staff_frame(event, handle, summary=wanted.summary)


async def _watch_session(ws: web.WebSocketResponse, state: ConsoleState, token: str) -> None:
    """Close the socket when the session ends (logout elsewhere, idle, lifetime)."""
    while not ws.closed:
        await asyncio.sleep(SESSION_CHECK_SECONDS)
        alive = await state.db(
            functools.partial(
                console_sessions.lookup,
                token=token,
                now=state.clock(),
                idle=state.idle,
                touch=False,
            )
        )
        if alive is None:
            await ws.close(code=SESSION_ENDED, message=b"session ended: log in again")


@auth.require(auth.ALL_ROLES, touches=False)
async def websocket(request: web.Request) -> web.StreamResponse:
    state = request.app[CONSOLE]
    origin = request.headers.get(hdrs.ORIGIN)
    if not origin_allowed(origin, request.host, state.settings.allowed_origins):
        log.warning("console: websocket from a foreign origin refused: %s", origin)
        raise web.HTTPForbidden(text="origin not allowed")
    hub = request.app.get(EVENTS)
    if hub is None:
        raise web.HTTPServiceUnavailable(text="no live events in this gateway")
    identity = auth.staff_of(request)
    mine = await state.db(_my_conversations(identity))
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=4096)
    await ws.prepare(request)
    subscription = hub.subscribe()
    state.sockets.add(ws)
    wanted = AgentFilter(identity, mine)
    await ws.send_json({"type": "hello", "user": identity.username})

    async def forward() -> None:
        async for event in subscription:
            if not wanted.wants(event):
                continue
            frame = await _frame(state, event, wanted)
            if subscription.lagged:
                frame["lagged"] = True
                subscription.lagged = False
            await asyncio.wait_for(ws.send_json(frame), SEND_TIMEOUT_SECONDS)

    pump = asyncio.create_task(forward())
    watchdog = asyncio.create_task(_watch_session(ws, state, request.cookies.get(auth.COOKIE, "")))
    try:
        async for frame in ws:  # the client only answers pings; anything else is ignored
            if frame.type == WSMsgType.ERROR:
                break
    finally:
        subscription.close()
        for task in (pump, watchdog):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        state.sockets.discard(ws)
    return ws
