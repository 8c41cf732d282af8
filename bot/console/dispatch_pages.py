"""The repair work orders' pages: /console/tickets (the list), /console/tickets/{ticket_no} (a
ticket) and /console/crew (the crews' phone page).

They are console pages like the others (bot/console/pages.py lists them and their script and
style, served under /console/static/: templates with escaped placeholders, content-hashed
assets, the same strict Content-Security-Policy, no inline script); the pages carry no ticket
data: their script reads it from /api/v1/tickets/ with the session.
"""

from __future__ import annotations

from aiohttp import web

from bot.console import auth
from bot.console.pages import page_response
from bot.console.state import CONSOLE


async def _page(request: web.Request, page: str, **extra: str) -> web.StreamResponse:
    values = {**auth.page_values(request), **extra}
    return await page_response(request, request.app[CONSOLE].files, page, values)


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


def setup(app: web.Application) -> None:
    add = app.router
    add.add_get("/console/tickets", tickets_page, name="console-tickets")
    add.add_get("/console/tickets/{ticket_no}", ticket_page, name="console-ticket")
    add.add_get("/console/crew", crew_page, name="console-crew")
