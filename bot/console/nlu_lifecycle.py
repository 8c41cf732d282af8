"""The NLU page's per-application state: the retraining loop, made on the console's database
when the gateway starts (jobs a dead process left behind are then failed), and the training
jobs this process started, cancelled at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from bot.console.state import CONSOLE
from bot.keys import BACKENDS, NLU_SETTINGS
from nlu.deploy import RasaServer
from nlu.loop import NluLoop
from nlu.rules import NluError
from nlu.settings import NluSettings
from store.config import default_conf_dir

log = logging.getLogger(__name__)

SHUTDOWN_GRACE: Final = 20.0
"""Seconds the gateway waits at shutdown for its cancelled training jobs to stop."""


@dataclass
class NluConsole:
    """The NLU page's per-application state: the loop (made at start-up unless a test put its
    own here before) and the training jobs this process started (cancelled at shutdown)."""

    loop: NluLoop | None = None
    started_jobs: set[int] = field(default_factory=set)


NLU_CONSOLE: Final = web.AppKey("nlu_console", NluConsole)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """The loop on the console's database (after the console's own start-up); jobs a dead
    process left behind are failed; at shutdown this process's jobs are cancelled."""
    state = app[NLU_CONSOLE]
    if state.loop is None:
        console = app[CONSOLE]
        assert console.factory is not None
        gateway = console.settings
        settings = app.get(NLU_SETTINGS)
        if settings is None:  # a console without the gateway's core (bot.app reads it there)
            conf_dir = gateway.conf_dir or default_conf_dir()
            env = {**os.environ, "CONF_DIR": str(conf_dir)}
            settings = await asyncio.to_thread(NluSettings.load, env)
        state.loop = NluLoop(
            settings,
            console.factory,
            rasa=RasaServer(
                url=gateway.rasa_url,
                token=gateway.rasa_token,
                standby_url=gateway.rasa_standby_url,
                more=gateway.rasa_more_urls,
                standby_more=gateway.rasa_standby_more_urls,
            ),
            on_switch=lambda url: _switch_rasa(app, url),
        )
    loop = state.loop
    try:
        failed = await asyncio.to_thread(loop.recover)
        if failed:
            log.warning("nlu: %s training job(s) of a process that ended marked failed", failed)
    except Exception:  # the console still serves the rest; the page shows the jobs
        log.exception("nlu: could not check for training jobs left behind")
    try:
        yield
    finally:
        await _stop_jobs(loop, state.started_jobs)


def _switch_rasa(app: web.Application, url: str) -> None:
    """After a blue/green deployment: this gateway's Rasa client moves to `url` at once."""
    backends = app.get(BACKENDS)
    if backends is not None:
        backends.rasa.switch_to(url)


async def _stop_jobs(loop: NluLoop, job_ids: set[int]) -> None:
    for job_id in sorted(job_ids):
        with contextlib.suppress(NluError):
            await asyncio.to_thread(loop.cancel_job, job_id, actor="gateway shutdown")
    try:
        await asyncio.wait_for(loop.wait_for_jobs(), SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning("nlu: training jobs still running at shutdown after %.0f s", SHUTDOWN_GRACE)
