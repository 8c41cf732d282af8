"""The gateway application: `create_app(settings)` wires the core and the channels together.

Nothing is created when this module is imported or when `create_app` runs: the database engine,
the HTTP client session, the router, the retry worker and the notifier are made in a cleanup
context when the application starts, and closed in reverse order when it stops (after aiohttp
has stopped listening and in-flight requests have finished). The core's context is registered
before any channel's hooks, so `app[ROUTER]` exists when a channel starts, and the router is
closed only after the channels have stopped. The retry worker starts last, once every channel
has registered: its first pass answers what a killed process left and sends the replies it cut
off through those channels.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web

from bot import api, console, health, outages
from bot.backends import Backends
from bot.events import EventHub
from bot.handoff import HandoffDesk, load_handoff_config
from bot.keys import (
    BACKENDS,
    CORE_ROUTER,
    EVENTS,
    HANDOFF,
    NLU_SETTINGS,
    REPLICAS,
    ROUTER,
    SETTINGS,
)
from bot.notifier import Notifier
from bot.replicas import Replicas
from bot.replicas.jobs import Jobs
from bot.report_schedule import ReportSchedule, start_schedule
from bot.retry import RetryWorker
from bot.router import Router
from bot.serving import RasaWorkers
from bot.settings import GatewaySettings
from bot.texts import load_texts
from bot.transcript import Transcript
from nlu.settings import NluSettings
from store.config import Settings as StoreSettings
from store.config import default_conf_dir, load_settings
from store.db import make_engine, make_session_factory

log = logging.getLogger(__name__)


def create_app(
    settings: GatewaySettings, *, channels: bool = True, nlu_settings: NluSettings | None = None
) -> web.Application:
    """The gateway's aiohttp application (run it with `python -m bot`).

    `channels=False` leaves out the web chat, Telegram and WeChat (tests of the core alone).
    `nlu_settings`: conf/nlu.yml's settings (tests); by default read when the core starts.
    """
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    if nlu_settings is not None:
        app[NLU_SETTINGS] = nlu_settings
    app.cleanup_ctx.append(_core)
    health.setup(app)
    api.setup(app)
    console.setup(app)  # the agent console for human handoff: bot/console/, docs/agents.md
    if channels:
        _setup_channel(app, "bot.channels.webchat")
        if settings.telegram_token:
            _setup_channel(app, "bot.channels.telegram")
        if settings.wechat_app_id:
            _setup_channel(app, "bot.channels.wechat")
    outages.setup(app)  # outage notices: page, API, the queue's worker (after the channels)
    app.on_startup.append(_start_retries)  # last: every channel has registered by then
    return app


_RETRY_WORKER: Final = web.AppKey("retry_worker", RetryWorker)


async def _start_retries(app: web.Application) -> None:
    """The retry worker starts once every channel is registered with the router: its first
    sweep answers what a crash left and sends the replies it cut off through those channels."""
    app[_RETRY_WORKER].start()


def load_nlu_settings(conf_dir: Path) -> NluSettings:
    """conf/nlu.yml of `conf_dir` (ConfigError naming the file and key when it is wrong)."""
    return NluSettings.load({**os.environ, "CONF_DIR": str(conf_dir)})


def _setup_channel(app: web.Application, module_name: str) -> None:
    """Let a channel adapter register its routes and hooks; a missing adapter is a warning,
    not a failure: the others (and the JSON API) still serve customers."""
    try:
        module = importlib.import_module(module_name)
        setup = module.setup
    except (ImportError, AttributeError) as exc:
        log.warning("channel %s not available (%s); starting without it", module_name, exc)
        return
    setup(app)


async def _core(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    conf_dir = settings.conf_dir or default_conf_dir()
    store_settings = load_settings(conf_dir)
    texts = load_texts(conf_dir)
    handoff_config = load_handoff_config(conf_dir)
    nlu_settings = app.get(NLU_SETTINGS) or load_nlu_settings(conf_dir)
    if not settings.handoff_triggers:
        handoff_config = replace(handoff_config, triggers=handoff_config.triggers.off())
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    session = aiohttp.ClientSession()
    grace = settings.shutdown_timeout
    # several replicas (GATEWAY_SHARED): locks, live events and one-replica jobs through Redis
    replicas = Replicas(settings) if settings.shared else None
    try:
        if replicas is not None:
            await replicas.start()
            app[REPLICAS] = replicas
        # the Rasa workers (bot/rasa_pool.py) and, with blue/green, the pool the database names
        rasa = RasaWorkers(settings, session, factory)
        await rasa.prepare()
        backends = Backends(rasa.pool, session, settings.action_server_url)
        events = EventHub()
        desk = HandoffDesk(
            factory=factory,
            events=events,
            config=handoff_config,
            store_settings=store_settings,
            inbox=nlu_settings.inbox,
        )
        router = Router(
            transcript=Transcript(factory),
            backends=backends,
            texts=texts,
            max_text_chars=settings.max_text_chars,
            hotline=store_settings.service.hotline,
            events=events,
            handoff=desk,
            inbox=nlu_settings.inbox,
            replicas=replicas,
        )
        if replicas is not None:
            replicas.bus.relay_events(events)  # consoles on every replica see every event
            # Rasa back after an outage, seen by one replica: none keeps '系统繁忙' up longer
            replicas.bus.relay_backends(backends, router.pending_added)
            backends.elsewhere = replicas.rasa_back
        app[ROUTER] = router
        app[NLU_SETTINGS] = nlu_settings
        app[EVENTS] = events
        app[HANDOFF] = desk
        app[CORE_ROUTER] = router
        app[BACKENDS] = backends
        # before any channel starts: every message still 'received' was left by a dead process
        # (with other replicas: only what is older than their turns can be)
        stale_after = timedelta(seconds=2 * settings.rasa_timeout + 60)
        await router.recover(stale_after if replicas is not None else None)
        worker = RetryWorker(
            router, backends, max_backoff=settings.retry_max_backoff, stale_after=stale_after
        )
        app[_RETRY_WORKER] = worker  # started by _start_retries, after the channels
        notifier = Notifier(
            factory=factory,
            router=router,
            texts=texts,
            settings=store_settings,
            interval=settings.notify_interval,
        )
        # once across replicas (bot/replicas/jobs.py): here, or where each one's lease is
        jobs = Jobs(replicas, grace)
        if settings.notify_interval > 0:
            await jobs.run("notifier", functools.partial(_notify, notifier), Notifier.stop)
        if settings.handoff_watch:
            # wait limits, abandon timer, auto-assignment (conf/handoff.yml)
            await jobs.run("handoff-watcher", functools.partial(_watch, desk), HandoffDesk.stop)
        if settings.quality_reports:
            # the evaluation reports of each closed period (conf/quality_reports.yml)
            # (made in a child process on the gateway's database)
            url = engine.url.render_as_string(hide_password=False)
            schedule = functools.partial(_reports, url, store_settings)
            await jobs.run("quality-reports", schedule, ReportSchedule.stop)
        rasa.start()
        log.info("gateway core started (Rasa at %s)", rasa.pool.base_url)
        try:
            yield
        finally:
            await jobs.stop()
            await router.close(grace)
            await worker.stop(grace)
            await rasa.stop()  # last: the messages finishing above still use the workers
    finally:
        if replicas is not None:
            await replicas.stop()
        await session.close()
        engine.dispose()
        log.info("gateway core stopped")


async def _notify(notifier: Notifier) -> Notifier:
    # the cursors start now (first start only): what happened before is never announced
    await notifier.prepare()
    notifier.start()
    return notifier


async def _watch(desk: HandoffDesk) -> HandoffDesk:
    desk.start()
    return desk


async def _reports(database_url: str, settings: StoreSettings) -> ReportSchedule:
    return start_schedule(database_url, settings)
