"""The agent console: where station staff take over chats from the bot (human handoff).

`setup(app)` registers

- pages: ``/console/login`` (GET form, POST), ``/console/logout`` (POST), ``/console``
  (agents), ``/console/supervisor`` (supervisors, operators), ``/console/nlu`` (operators: the
  NLU inbox, retraining, the model registry), ``/console/static/<name>``;
- ``/console/ws``: the live feed (bot/events.py events) for the logged-in staff member;
- the agent API under ``/api/v1/agent/`` (bot/console/api.py; the failed identity checks:
  bot/console/verification_api.py);
- the operators' NLU API under ``/api/v1/nlu/`` (bot/console/nlu_api.py);
- the back office's cases: ``/console/feedback``, ``/console/applications``,
  ``/console/customers`` and ``/api/v1/feedback``, ``/api/v1/applications``,
  ``/api/v1/customers`` (bot/console/cases_api.py, customers_api.py; docs/back-office-cases.md).
- service quality: ``/console/quality`` (the dashboard), ``/console/quality/scorecards`` and
  ``/api/v1/quality/`` (bot/console/quality_api.py; docs/manager.md).
- the evaluation reports: ``/console/quality/reports`` and ``/api/v1/quality/reports``
  (bot/console/quality_reports_api.py; docs/quality-reports.md).

Modules: `auth` (sessions, CSRF, roles), `login`, `pages` (files, CSP), `api`, `nlu_api`, `ws`,
`live` (publishing, sending as an agent), `ratelimit`, `state`. Staff guide and API reference:
docs/agents.md; the operators' page: docs/operators.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from bot import health
from bot.console import (
    api,
    auth,
    cases_api,
    customers_api,
    dispatch_api,
    import_api,
    login,
    nlu_api,
    quality_api,
    quality_reports_api,
    verification_api,
    ws,
)
from bot.console.canned import load_canned_replies
from bot.console.hashing import HashPool
from bot.console.pages import ConsoleFiles, asset, page_response
from bot.console.ratelimit import LoginLimiter, SharedLoginLimiter
from bot.console.state import CONSOLE, ConsoleState
from bot.events import EventHub
from bot.keys import EVENTS, REPLICAS, SETTINGS
from bot.ratelimit import RateLimiter
from bot.settings import GatewaySettings
from store.config import default_conf_dir
from store.db import make_engine, make_session_factory

__all__ = ["CONSOLE", "ConsoleState", "setup"]


def setup(app: web.Application) -> None:
    """Register the console's routes; its database engine is made when the app starts."""
    settings = app.get(SETTINGS) or GatewaySettings()
    state = ConsoleState(files=ConsoleFiles(settings.static_dir), settings=settings)
    app[CONSOLE] = state
    health.add_detail(app, "console_logins", lambda: state.hashing.stats())
    if EVENTS not in app:  # bot.app sets the gateway's hub; a bare app gets its own
        app[EVENTS] = EventHub()
    add = app.router
    add.add_get("/console/login", login.login_page, name="console-login")
    add.add_post("/console/login", login.login_form_post, name="console-login-post")
    add.add_post("/console/logout", login.logout_form, name="console-logout")
    add.add_get("/console", agent_page, name="console-page")
    add.add_get("/console/supervisor", supervisor_page, name="console-supervisor")
    add.add_get("/console/nlu", nlu_page, name="console-nlu")
    add.add_get("/console/static/{name}", static_file, name="console-static")
    add.add_get("/console/ws", ws.websocket, name="console-ws")
    add.add_post("/api/v1/agent/login", login.login_json, name="agent-login")
    add.add_post("/api/v1/agent/logout", login.logout_json, name="agent-logout")
    api.setup(app)
    verification_api.setup(app)  # supervisors: failed identity checks
    app.cleanup_ctx.append(_database)
    nlu_api.setup(app)  # after _database: its loop uses the console's database
    dispatch_api.setup(app)  # repair work orders, crews' phone page (back office)
    cases_api.setup(app)  # complaints, feedback and applications (back office)
    customers_api.setup(app)  # customer records (back office)
    import_api.setup(app)  # managers: the billing system's exports (back office)
    quality_api.setup(app)  # the service-quality dashboard, plan and scorecards
    quality_reports_api.setup(app)  # the periodic evaluation reports (docs/quality-reports.md)
    app.on_shutdown.append(_close_sockets)


async def _database(app: web.Application) -> AsyncIterator[None]:
    state = app[CONSOLE]
    state.settings = app.get(SETTINGS) or state.settings
    state.files = ConsoleFiles(state.settings.static_dir)
    await asyncio.to_thread(state.files.refresh)
    conf_dir = state.settings.conf_dir or default_conf_dir()
    state.canned = await asyncio.to_thread(load_canned_replies, conf_dir)
    limits = state.settings.limits
    state.hashing = HashPool(limits.hash_threads, limits.hash_queue)
    local = LoginLimiter(overall=RateLimiter(limits.login))
    replicas = app.get(REPLICAS)  # several replicas: counted in Redis
    state.limiter = local if replicas is None else SharedLoginLimiter(replicas.limits, local)
    engine = make_engine(state.settings.database_url)
    state.factory = make_session_factory(engine)
    try:
        yield
    finally:
        state.factory = None
        state.hashing.close()
        engine.dispose()


async def _close_sockets(app: web.Application) -> None:
    sockets = list(app[CONSOLE].sockets)
    await asyncio.gather(
        *(s.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for s in sockets),
        return_exceptions=True,
    )


def _values(request: web.Request) -> dict[str, str]:
    max_text_chars = str(request.app[CONSOLE].settings.max_text_chars)
    return {**auth.page_values(request), "max_text_chars": max_text_chars}


@auth.require(auth.AGENT_ROLES, kind="page")
async def agent_page(request: web.Request) -> web.StreamResponse:
    return await page_response(
        request, request.app[CONSOLE].files, "console.html", _values(request)
    )


@auth.require(auth.SUPERVISOR_ROLES, kind="page")
async def supervisor_page(request: web.Request) -> web.StreamResponse:
    files = request.app[CONSOLE].files
    return await page_response(request, files, "console-supervisor.html", _values(request))


@auth.require(auth.OPERATOR_ROLES, kind="page")
async def nlu_page(request: web.Request) -> web.StreamResponse:
    files = request.app[CONSOLE].files
    return await page_response(request, files, "console-nlu.html", _values(request))


async def static_file(request: web.Request) -> web.StreamResponse:
    """The pages' scripts, style and icon: public (no data in them), like the web chat's."""
    return await asset(request, request.app[CONSOLE].files)
