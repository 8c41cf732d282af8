"""What the service-quality routes share (bot/console/quality_api.py, quality_plan_api.py,
quality_scorecards_api.py): the configuration they read (store settings and
conf/quality_dashboard.yml, loaded when the app starts), the station's date, the caller's
scope, and one way of running a unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from aiohttp import web

from bot.console import auth
from bot.console.quality_scope import Scope, leads_a_team, scope_of
from bot.console.state import CONSOLE
from bot.keys import SETTINGS
from bot.settings import GatewaySettings
from store.config import Settings, default_conf_dir, load_settings
from store.configuration.quality_dashboard import DashboardConfig, read_dashboard
from store.services import teams

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass
class QualityState:
    """The configuration the dashboard reads, loaded when the app starts."""

    settings: Settings | None = None
    config: DashboardConfig | None = None

    def loaded(self) -> tuple[Settings, DashboardConfig]:
        if self.settings is None or self.config is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self.settings, self.config


QUALITY: Final = web.AppKey("quality_dashboard", QualityState)


def install(app: web.Application) -> None:
    app[QUALITY] = QualityState()
    app.on_startup.append(_load)


async def _load(app: web.Application) -> None:
    gateway = app.get(SETTINGS) or GatewaySettings()
    conf_dir = Path(gateway.conf_dir or default_conf_dir())
    state = app[QUALITY]
    state.settings = await asyncio.to_thread(load_settings, conf_dir)
    state.config = await asyncio.to_thread(read_dashboard, conf_dir)


def config_of(request: web.Request) -> DashboardConfig:
    return request.app[QUALITY].loaded()[1]


def now_of(request: web.Request) -> datetime:
    """The console's clock: what decides which open items are already late."""
    return request.app[CONSOLE].clock()


def today_of(request: web.Request) -> date:
    """The station's date now (its time zone, conf/commitments.yml)."""
    settings, _ = request.app[QUALITY].loaded()
    return now_of(request).astimezone(settings.tz).date()


async def scope(request: web.Request) -> Scope:
    """What the logged-in staff member may see (the caller checked the route's roles); a
    supervisor's depends on their team, read for each request (a move shows at once)."""
    me = auth.staff_of(request)
    if not leads_a_team(me.role):
        return scope_of(me.role)
    return scope_of(me.role, await db(request, lambda s: teams.team_of(s, me.user_id)))


async def db(request: web.Request, work: Callable[[Session], T]) -> T:
    """`work` in one unit of work in a worker thread."""
    return await request.app[CONSOLE].db(work)
