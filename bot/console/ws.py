"""GET /console/ws: the live feed of the console (events of bot/events.py as JSON frames).

Opened with the session cookie by the console page; a browser from another origin is refused
(403) before the upgrade. An agent gets the events of the chats assigned to them, the queue's
changes and alerts; supervisors and operators get everything. The socket is read-only for
the client (actions go through the JSON API, with the CSRF token).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, hdrs, web
from sqlalchemy.orm import Session

from bot.channels.webchat import origin_allowed
from bot.console import auth
from bot.console.state import CONSOLE
from bot.events import Event
from bot.keys import EVENTS
from store.services import console_sessions, handoffs
from store.services.console_sessions import StaffIdentity

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS: Final = 25.0
SEND_TIMEOUT_SECONDS: Final = 10.0
SESSION_CHECK_SECONDS: Final = 60.0
"""How often an open socket checks that its session is still valid."""


class AgentFilter:
    """Which events one connection sees; follows the agent's chats as they change."""

    def __init__(self, identity: StaffIdentity, mine: set[str]) -> None:
        self.identity = identity
        self.mine = mine
        self.everything = identity.role in ("supervisor", "operator")

    def wants(self, event: Event) -> bool:
        data = event.data
        if event.kind == "handoff_changed":
            cid = event.conversation_id or data.get("conversation_id")
            if data.get("state") == "assigned" and data.get("agent_id") == self.identity.user_id:
                if cid:
                    self.mine.add(cid)
                return True
            was_mine = cid in self.mine
            if was_mine and cid:
                self.mine.discard(cid)
            return (
                self.everything
                or was_mine
                or data.get("state") == "queued"
                or data.get("previous_agent_id") == self.identity.user_id
            )
        if event.kind in ("queue_changed", "alert"):
            return True
        return self.everything or event.conversation_id in self.mine


def _my_conversations(identity: StaffIdentity) -> Any:
    def work(session: Session) -> set[str]:
        return {
            h.conversation.conversation_id for h in handoffs.assigned_to(session, identity.user_id)
        }

    return work


@auth.require(auth.ALL_ROLES)
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
    sockets = request.app[CONSOLE].sockets
    sockets.add(ws)
    wanted = AgentFilter(identity, mine)
    await ws.send_json({"type": "hello", "user": identity.username})

    async def forward() -> None:
        async for event in subscription:
            if not wanted.wants(event):
                continue
            frame = event.as_json()
            if subscription.lagged:
                frame["lagged"] = True
                subscription.lagged = False
            await asyncio.wait_for(ws.send_json(frame), SEND_TIMEOUT_SECONDS)

    async def still_logged_in() -> None:
        """Close the socket when the session ends (logout elsewhere, expiry)."""
        token = request.cookies.get(auth.COOKIE, "")
        while not ws.closed:
            await asyncio.sleep(SESSION_CHECK_SECONDS)
            alive = await state.db(
                functools.partial(
                    console_sessions.lookup, token=token, now=state.clock(), idle=state.idle
                )
            )
            if alive is None:
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"logged out")

    pump = asyncio.create_task(forward())
    watchdog = asyncio.create_task(still_logged_in())
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
        sockets.discard(ws)
    return ws
