"""The repair work orders' pages: /console/tickets (the list), /console/tickets/{ticket_no} (a
ticket), /console/crew (the crews' phone page), and their script and style under
/console/dispatch/static/{name}.

Served like the console's own pages (bot/console/pages.py: templates with escaped
placeholders, content-hashed assets, the same strict Content-Security-Policy, no inline script);
the pages carry no ticket data: their script reads it from /api/v1/tickets/ with the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import hdrs, web

from bot.console import auth
from bot.console.pages import ConsoleFiles, page_response, security_headers
from bot.console.state import CONSOLE
from bot.static_dir import read_if_changed

ASSETS: Final[Mapping[str, str]] = {
    "console-dispatch.js": "text/javascript; charset=utf-8",
    "console-dispatch.css": "text/css; charset=utf-8",
}
PAGES: Final = ("console-tickets.html", "console-ticket.html", "console-crew.html")


@dataclass
class DispatchFiles(ConsoleFiles):
    """The back office's repair pages and assets (the console's own lists are its)."""

    def refresh(self) -> None:
        snapshot = read_if_changed(self.directory, [*PAGES, *ASSETS], ASSETS, self._stamp)
        if snapshot is not None:
            self.raw, self.version, self._stamp = snapshot.raw, snapshot.version, snapshot.stamp


FILES: Final = web.AppKey("dispatch_files", DispatchFiles)


def _files(request: web.Request) -> DispatchFiles:
    return request.app[FILES]


async def _page(request: web.Request, page: str, **extra: str) -> web.StreamResponse:
    me = auth.staff_of(request)
    console = request.app[CONSOLE].files
    await asyncio.to_thread(console.refresh)
    values = {
        "csrf": me.csrf_token,
        "display_name": me.display_name,
        "username": me.username,
        "role": me.role,
        "console_version": console.version,
        **extra,
    }
    return await page_response(request, _files(request), page, values)


@auth.require(auth.DISPATCH_ROLES, kind="page")
async def tickets_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, "console-tickets.html")


@auth.require(auth.DISPATCH_ROLES, kind="page")
async def ticket_page(request: web.Request) -> web.StreamResponse:
    number = request.match_info["ticket_no"]
    return await _page(request, "console-ticket.html", ticket_no=number[:20])


@auth.require(auth.CREW_ROLES, kind="page")
async def crew_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, "console-crew.html")


async def static_file(request: web.Request) -> web.StreamResponse:
    """The pages' script and style: public (no data in them), like the console's."""
    files = _files(request)
    name = request.match_info["name"]
    content_type = ASSETS.get(name)
    if content_type is None:
        raise web.HTTPNotFound()
    await asyncio.to_thread(files.refresh)
    body = files.raw[name]
    response = web.Response(body=body)
    response.headers[hdrs.CONTENT_TYPE] = content_type
    versioned = request.query.get("v") == files.version
    response.headers[hdrs.CACHE_CONTROL] = (
        "public, max-age=31536000, immutable" if versioned else "no-cache"
    )
    security_headers(response)
    return response


def setup(app: web.Application) -> None:
    app[FILES] = DispatchFiles(app[CONSOLE].files.directory)
    add = app.router
    add.add_get("/console/tickets", tickets_page, name="console-tickets")
    add.add_get("/console/tickets/{ticket_no}", ticket_page, name="console-ticket")
    add.add_get("/console/crew", crew_page, name="console-crew")
    add.add_get("/console/dispatch/static/{name}", static_file, name="console-dispatch-static")
