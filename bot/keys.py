"""Typed aiohttp application keys shared by the gateway's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.backends import Backends
    from bot.channels.base import MessageHandler
    from bot.events import EventHub
    from bot.handoff.desk import HandoffDesk
    from bot.replicas import Replicas
    from bot.router import Router
    from bot.settings import GatewaySettings
    from nlu.settings import NluSettings

SETTINGS: web.AppKey[GatewaySettings] = web.AppKey("settings")
ROUTER: web.AppKey[MessageHandler] = web.AppKey("router")
# The core's own view of the same router (the JSON API needs more than MessageHandler offers)
# and of the backends' health; set by bot.app at start-up, next to ROUTER.
CORE_ROUTER: web.AppKey[Router] = web.AppKey("core_router")
BACKENDS: web.AppKey[Backends] = web.AppKey("backends")
# The in-process event hub (bot/events.py) the agent console subscribes to; set by bot.app.
EVENTS: web.AppKey[EventHub] = web.AppKey("events")
# The human handoff desk (bot/handoff/desk.py): the console's actions; set by bot.app.
HANDOFF: web.AppKey[HandoffDesk] = web.AppKey("handoff")
# conf/nlu.yml (the NLU inbox's threshold, ...): read once when the core starts, unless the
# test passed its own to create_app.
NLU_SETTINGS: web.AppKey[NluSettings] = web.AppKey("nlu_settings")
# Several gateway replicas (GATEWAY_SHARED, bot/replicas/): set by bot.app only then.
REPLICAS: web.AppKey[Replicas] = web.AppKey("replicas")
