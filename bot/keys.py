"""Typed aiohttp application keys shared by the gateway's modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.channels.base import MessageHandler
    from bot.settings import GatewaySettings

SETTINGS: web.AppKey[GatewaySettings] = web.AppKey("settings")
ROUTER: web.AppKey[MessageHandler] = web.AppKey("router")
