"""Outage notices in the gateway (issue 19, docs/outages.md): the console's page
/console/outages and its API /api/v1/outages (`api.py`), and the worker that delivers the
notices on the customers' channels (`worker.py`). The rules live in store/outages/.

`setup(app)` is called by `bot.app.create_app` after the channels: the configuration is read
when the app starts (a cleanup context), the worker starts once every channel has registered
with the router (on_startup) and stops before the channels do (on_shutdown), giving back what
it had claimed and not sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from bot.console import auth
from bot.console.pages import page_response
from bot.console.state import CONSOLE
from bot.keys import CORE_ROUTER, SETTINGS
from bot.outages import api
from bot.outages.api import CONTEXT, OutageContext
from bot.outages.worker import OutageWorker
from bot.settings import GatewaySettings
from store.config import default_conf_dir, load_settings
from store.configuration.outages import load_outages
from store.db import make_engine, make_session_factory

__all__ = ["CONTEXT", "OutageWorker", "setup"]

WORKER: Final = web.AppKey("outage_worker", OutageWorker)


@auth.require(auth.OUTAGE_ROLES, kind="page")
async def outages_page(request: web.Request) -> web.StreamResponse:
    values = auth.page_values(request)
    return await page_response(request, request.app[CONSOLE].files, "console-outages.html", values)


def setup(app: web.Application) -> None:
    app.router.add_get("/console/outages", outages_page, name="console-outages")
    api.setup(app)
    app.cleanup_ctx.append(_context)
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)


async def _context(app: web.Application) -> AsyncIterator[None]:
    settings = app.get(SETTINGS) or GatewaySettings()
    conf_dir = settings.conf_dir or default_conf_dir()
    store_settings = await asyncio.to_thread(load_settings, conf_dir)
    codes = [a.code for a in store_settings.areas]
    config = await asyncio.to_thread(load_outages, conf_dir, codes)
    app[CONTEXT] = OutageContext(store_settings, config)
    engine = make_engine(settings.database_url) if settings.outage_notices else None
    if engine is not None and CORE_ROUTER in app:
        app[WORKER] = OutageWorker(
            factory=make_session_factory(engine),
            router=app[CORE_ROUTER],
            settings=store_settings,
            config=config,
        )
    try:
        yield
    finally:
        if engine is not None:
            engine.dispose()


async def _start(app: web.Application) -> None:
    """Every channel has registered by now: the worker's sends reach them."""
    if WORKER in app:
        app[WORKER].start()


async def _stop(app: web.Application) -> None:
    if WORKER in app:
        settings = app.get(SETTINGS) or GatewaySettings()
        await app[WORKER].stop(settings.shutdown_timeout)
