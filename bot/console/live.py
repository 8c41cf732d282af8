"""The console's side of the live events (bot/events.py): what it publishes after an agent
acted, and sending an agent's reply through the router."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from bot.console.state import CONSOLE
from bot.keys import EVENTS
from bot.messages import Reply
from bot.router import Router
from store.models import Handoff
from store.services.console_sessions import StaffIdentity

log = logging.getLogger(__name__)


def _publish_handoff(app: web.Application, view: dict[str, Any], **extra: Any) -> None:
    hub = app.get(EVENTS)
    if hub is None:
        return
    data = {
        "handoff_id": view["id"],
        "conversation_id": view["conversation_id"],
        "state": view["state"],
        "reason": view["reason"],
        "priority": view["priority"],
        "agent_id": (view.get("agent") or {}).get("id"),
        "actor": "console",
        **extra,
    }
    hub.publish("handoff_changed", data, conversation_id=view["conversation_id"])


async def _queue_changed(app: web.Application) -> None:
    hub = app.get(EVENTS)
    if hub is None:
        return
    queued = await app[CONSOLE].db(
        lambda s: int(
            s.scalar(select(func.count(Handoff.id)).where(Handoff.state == "queued")) or 0
        )
    )
    hub.publish("queue_changed", {"queued": queued})


async def handoff_changed(
    app: web.Application, view: dict[str, Any], *, previous_agent_id: int | None = None
) -> None:
    """After a claim or a transfer."""
    _publish_handoff(app, view, previous_agent_id=previous_agent_id)
    await _queue_changed(app)


async def finished(app: web.Application, view: dict[str, Any]) -> None:
    """After a hand-back or a close: the conversation is the bot's again."""
    _publish_handoff(app, view)
    await _queue_changed(app)


async def agents_changed(app: web.Application) -> None:
    """An agent's availability changed (the supervisor's agent list)."""
    await _queue_changed(app)


async def send_as_agent(
    router: Router, conversation_id: str, text: str, agent: StaffIdentity
) -> str:
    """Store the agent's message and deliver it at once through the conversation's channel:
    'sent', or 'stored' when the channel could not take it (the transcript keeps it)."""
    send = getattr(router, "send_as_agent", None)
    if send is not None:
        result = await send(conversation_id, text, agent.username)
        return result if isinstance(result, str) else "sent"
    return await router.deliver(conversation_id, [Reply(text=text)], sender="agent")
