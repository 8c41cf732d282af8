"""The console's link to the gateway core: the handoff desk (bot/handoff/desk.py), which
changes handoffs, tells the customer (agent joined, back to the bot, the survey) and publishes
the events, and the router, which delivers an agent's reply at once."""

from __future__ import annotations

from aiohttp import web

from bot.console.state import ApiError
from bot.handoff.desk import AgentRef, HandoffDesk
from bot.keys import CORE_ROUTER, HANDOFF
from bot.router import NotYourChat
from store.services.console_sessions import StaffIdentity


def desk_of(app: web.Application) -> HandoffDesk:
    desk = app.get(HANDOFF)
    if desk is None:
        raise ApiError(503, "unavailable", "human handoff is not running in this gateway")
    return desk


def agent_ref(identity: StaffIdentity) -> AgentRef:
    return AgentRef(
        id=identity.user_id,
        username=identity.username,
        display_name=identity.display_name,
        role=identity.role,
    )


async def send_as_agent(
    app: web.Application, conversation_id: str, text: str, agent: StaffIdentity
) -> str:
    """Store the agent's message and deliver it at once through the conversation's channel:
    'sent', or 'stored' when the channel could not take it (the transcript keeps it)."""
    router = app.get(CORE_ROUTER)
    if router is None:
        raise ApiError(503, "unavailable", "the gateway is starting")
    try:
        return await router.send_as_agent(conversation_id, text, agent_ref(agent))
    except NotYourChat:  # its message names the conversation id: staff never see that
        raise ApiError(403, "not_your_chat", "this chat is not assigned to you") from None
