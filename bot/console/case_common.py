"""What the back office's routes share (complaints and feedback, applications, customer
records): the configuration they read (store settings, conf/back_office.yml and the categories
of conf/quality.yml, loaded when the app starts), their pages (console pages, listed in
bot/console/pages.py), request parsing, and one way of running a unit of work that turns the
services' refusals into the API's errors: an illegal step 409, a category the case cannot have
400, a wrong value 422."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar

from aiohttp import web

from bot.console import auth
from bot.console.api import json_body
from bot.console.pages import page_response
from bot.console.state import CONSOLE, ApiError
from bot.keys import SETTINGS
from bot.settings import GatewaySettings
from store.config import Settings, default_conf_dir, load_settings
from store.configuration.back_office import BackOffice, read_back_office
from store.configuration.quality import Quality, read_quality
from store.services.case_feedback_views import OPEN
from store.services.ticket_categories import CategoryError
from store.workflow import IllegalTransition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
TEXT_MAX: Final = 2000


@dataclass
class CaseState:
    """The back office's configuration, read at start-up (`settings` None before that)."""

    settings: Settings | None = None
    office: BackOffice | None = None
    quality: Quality | None = None
    """conf/quality.yml: the categories a case may be given."""

    def config(self) -> tuple[Settings, BackOffice]:
        if self.settings is None or self.office is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self.settings, self.office

    def categories(self) -> Quality:
        if self.quality is None:
            raise web.HTTPServiceUnavailable(text="starting")
        return self.quality


CASES: Final = web.AppKey("back_office_cases", CaseState)


def install(app: web.Application) -> CaseState:
    """The shared state (once per app: feedback, applications and customers all use it)."""
    if CASES not in app:
        app[CASES] = CaseState()
        app.on_startup.append(_load)
    return app[CASES]


async def _load(app: web.Application) -> None:
    state = app[CASES]
    gateway = app.get(SETTINGS) or GatewaySettings()
    conf_dir = Path(gateway.conf_dir or default_conf_dir())
    state.settings = await asyncio.to_thread(load_settings, conf_dir)
    state.office = await asyncio.to_thread(read_back_office, conf_dir)
    state.quality = await asyncio.to_thread(read_quality, conf_dir)


async def back_office_page(request: web.Request, page: str) -> web.StreamResponse:
    """One of the back office's pages for the logged-in staff member (the caller checked the
    role)."""
    files = request.app[CONSOLE].files
    return await page_response(request, files, page, auth.page_values(request))


def config_of(request: web.Request) -> tuple[Settings, BackOffice]:
    return request.app[CASES].config()


def quality_of(request: web.Request) -> Quality:
    return request.app[CASES].categories()


def now_of(request: web.Request) -> datetime:
    return request.app[CONSOLE].clock()


class By(TypedDict):
    """Who makes a change and when: every step of a case or an application records both (the
    services' `actor=` and `now=`, passed as `**by`)."""

    actor: str
    """the staff member's username"""
    now: datetime


def by_of(request: web.Request) -> By:
    return By(actor=auth.staff_of(request).username, now=now_of(request))


async def run(request: web.Request, work: Callable[[Session], T]) -> T:
    """`work` in one unit of work; its refusals as API errors (the transaction rolled back)."""
    try:
        return await request.app[CONSOLE].db(work)
    except IllegalTransition as exc:
        raise ApiError(409, "illegal_step", str(exc)) from None
    except CategoryError as exc:
        raise ApiError(400, "unknown_category", str(exc)) from None
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


def required_text(data: dict[str, Any], name: str) -> str:
    return text(data, name, required=True) or ""


def codes(data: dict[str, Any], name: str) -> list[str]:
    """A list of short codes (documents); [] when absent."""
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 64 for v in value):
        raise ApiError(422, "invalid", f"{name} must be a list of codes")
    return list(value)


def query_choice(request: web.Request, name: str, default: str | None) -> str | None:
    value = request.query.get(name, "").strip()
    return value[:64] or default


def list_filters(request: web.Request) -> tuple[str | None, str]:
    """A list's `?type=&state=`: every type when absent, the open ones when no state is given."""
    return query_choice(request, "type", None), query_choice(request, "state", OPEN) or OPEN
