"""What the back office's routes share (complaints and feedback, applications, customer
records): the configuration they read (store settings and conf/back_office.yml, loaded when the
app starts), their pages' files, request parsing, and one way of running a unit of work that
turns the services' refusals into the API's errors: an illegal step 409, a wrong value 422."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiohttp import web

from bot.console import auth
from bot.console.api import json_body
from bot.console.case_pages import CaseFiles
from bot.console.pages import page_response
from bot.console.state import CONSOLE, ApiError
from bot.keys import SETTINGS
from bot.settings import GatewaySettings
from store.config import Settings, default_conf_dir, load_settings
from store.configuration.back_office import BackOffice, read_back_office
from store.workflow import IllegalTransition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
TEXT_MAX: Final = 2000


@dataclass
class CaseState:
    """The back office's configuration, read at start-up (`settings` None before that)."""

    files: CaseFiles
    settings: Settings | None = None
    office: BackOffice | None = None

    def config(self) -> tuple[Settings, BackOffice]:
        if self.settings is None or self.office is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self.settings, self.office


CASES: Final = web.AppKey("back_office_cases", CaseState)


def install(app: web.Application) -> CaseState:
    """The shared state (once per app: feedback, applications and customers all use it)."""
    if CASES not in app:
        settings = app.get(SETTINGS) or GatewaySettings()
        app[CASES] = CaseState(files=CaseFiles(settings.static_dir))
        app.on_startup.append(_load)
    return app[CASES]


async def _load(app: web.Application) -> None:
    state = app[CASES]
    gateway = app.get(SETTINGS) or GatewaySettings()
    conf_dir = Path(gateway.conf_dir or default_conf_dir())
    state.files = CaseFiles(gateway.static_dir)
    await asyncio.to_thread(state.files.refresh)
    state.settings = await asyncio.to_thread(load_settings, conf_dir)
    state.office = await asyncio.to_thread(read_back_office, conf_dir)


def page_values(request: web.Request) -> dict[str, str]:
    me = auth.staff_of(request)
    return {
        "csrf": me.csrf_token,
        "display_name": me.display_name,
        "username": me.username,
        "role": me.role,
    }


async def back_office_page(request: web.Request, page: str) -> web.StreamResponse:
    """One of the back office's pages for the logged-in staff member (the caller checked the
    role)."""
    return await page_response(request, request.app[CASES].files, page, page_values(request))


def config_of(request: web.Request) -> tuple[Settings, BackOffice]:
    return request.app[CASES].config()


def now_of(request: web.Request) -> datetime:
    return request.app[CONSOLE].clock()


def actor_of(request: web.Request) -> str:
    """Who is recorded on every change: the staff member's username."""
    return auth.staff_of(request).username


async def run(request: web.Request, work: Callable[[Session], T]) -> T:
    """`work` in one unit of work; its refusals as API errors (the transaction rolled back)."""
    try:
        return await request.app[CONSOLE].db(work)
    except IllegalTransition as exc:
        raise ApiError(409, "illegal_step", str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, "invalid", str(exc)) from None


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


async def body(request: web.Request) -> dict[str, Any]:
    return await json_body(request)


def text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(422, "invalid", f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ApiError(422, "invalid", f"{name} must be a string")
    if len(value) > TEXT_MAX:
        raise ApiError(422, "too_long", f"{name} may have at most {TEXT_MAX} characters")
    return value


def codes(data: dict[str, Any], name: str) -> list[str]:
    """A list of short codes (documents); [] when absent."""
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 64 for v in value):
        raise ApiError(422, "invalid", f"{name} must be a list of codes")
    return list(value)


def query_choice(request: web.Request, name: str, default: str | None) -> str | None:
    value = request.query.get(name, "").strip()
    return value[:64] or default
