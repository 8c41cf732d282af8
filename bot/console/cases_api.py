"""The back office's complaints and feedback (clerks and managers, `auth.CASE_ROLES`): the page
`/console/feedback` and its JSON API under `/api/v1/feedback`.

- ``GET /api/v1/feedback?type=&state=`` the cases of a type (complaint, violation, suggestion,
  praise; all when absent) in a state (open, overdue, closed), overdue first, with their
  contact and reply commitments; and who may handle them;
- ``GET /api/v1/feedback/{case_no}`` one case: the customer's words, commitments, history,
  the same customer's earlier complaints;
- ``POST /api/v1/feedback/{case_no}/assign`` ``{"handler", "note"?}``,
  ``/contact`` ``{"note"}``, ``/reply`` ``{"reply"}``, ``/close`` ``{"verdict", "note"?}``:
  each answers the case as it is now; an illegal step is a 409, a wrong value a 422.

`setup` also registers the applications (bot/console/applications_api.py) and the back office's
static files. Services: store/services/case_feedback.py and case_feedback_views.py; the guide
and the API reference: docs/back-office-cases.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.console import applications_api, auth
from bot.console.case_common import (
    CASES,
    actor_of,
    back_office_page,
    body,
    config_of,
    install,
    not_found,
    now_of,
    query_choice,
    run,
    text,
)
from bot.console.case_pages import STATIC_PATH, case_asset
from store.services import case_feedback
from store.services.case_feedback_views import OPEN, case_view, list_cases

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Step = Callable[["Session", Any], object]
"""A change of one case (the ticket row is the services' business, not the gateway's)."""


def setup(app: web.Application) -> None:
    """Register the feedback and application pages and APIs, and the back office's assets."""
    install(app)
    add = app.router
    add.add_get(STATIC_PATH, static_file, name="cases-static")
    add.add_get("/console/feedback", feedback_page, name="console-feedback")
    add.add_get("/api/v1/feedback", get_cases, name="feedback-list")
    add.add_get("/api/v1/feedback/{case_no}", get_case, name="feedback-case")
    add.add_post("/api/v1/feedback/{case_no}/assign", post_assign, name="feedback-assign")
    add.add_post("/api/v1/feedback/{case_no}/contact", post_contact, name="feedback-contact")
    add.add_post("/api/v1/feedback/{case_no}/reply", post_reply, name="feedback-reply")
    add.add_post("/api/v1/feedback/{case_no}/close", post_close, name="feedback-close")
    applications_api.setup(app)


async def static_file(request: web.Request) -> web.StreamResponse:
    """The back office's scripts and style: public (no data in them), like the console's."""
    return await case_asset(request, request.app[CASES].files)


@auth.require(auth.CASE_ROLES, kind="page")
async def feedback_page(request: web.Request) -> web.StreamResponse:
    return await back_office_page(request, "console-feedback.html")


@auth.require(auth.CASE_ROLES)
async def get_cases(request: web.Request) -> web.Response:
    settings, office = config_of(request)
    now = now_of(request)
    kind = query_choice(request, "type", None)
    state = query_choice(request, "state", OPEN) or OPEN

    def work(session: Session) -> dict[str, Any]:
        found = list_cases(session, settings, office, now, type=kind, state=state)
        people = case_feedback.handlers(session)
        found["handlers"] = [
            {"username": u.username, "display_name": u.display_name} for u in people
        ]
        return found

    return web.json_response(await run(request, work))


def _case_work(request: web.Request, step: Step | None) -> Callable[[Session], dict[str, Any]]:
    settings, office = config_of(request)
    now = now_of(request)
    ticket_no = request.match_info["case_no"]

    def work(session: Session) -> dict[str, Any]:
        ticket = case_feedback.get_case(session, ticket_no)
        if ticket is None:
            raise not_found("case")
        if step is not None:
            step(session, ticket)
        return case_view(session, settings, office, ticket, now)

    return work


@auth.require(auth.CASE_ROLES)
async def get_case(request: web.Request) -> web.Response:
    return web.json_response(await run(request, _case_work(request, None)))


async def _act(request: web.Request, step: Step) -> web.Response:
    return web.json_response(await run(request, _case_work(request, step)))


@auth.require(auth.CASE_ROLES)
async def post_assign(request: web.Request) -> web.Response:
    data = await body(request)
    handler = text(data, "handler", required=True) or ""
    note = text(data, "note")
    actor, now = actor_of(request), now_of(request)
    return await _act(
        request,
        lambda s, t: case_feedback.assign(s, t, handler=handler, actor=actor, now=now, note=note),
    )


@auth.require(auth.CASE_ROLES)
async def post_contact(request: web.Request) -> web.Response:
    data = await body(request)
    note = text(data, "note", required=True) or ""
    actor, now = actor_of(request), now_of(request)
    return await _act(
        request, lambda s, t: case_feedback.record_contact(s, t, actor=actor, now=now, note=note)
    )


@auth.require(auth.CASE_ROLES)
async def post_reply(request: web.Request) -> web.Response:
    data = await body(request)
    reply = text(data, "reply", required=True) or ""
    actor, now = actor_of(request), now_of(request)
    return await _act(
        request, lambda s, t: case_feedback.record_reply(s, t, actor=actor, now=now, reply=reply)
    )


@auth.require(auth.CASE_ROLES)
async def post_close(request: web.Request) -> web.Response:
    data = await body(request)
    verdict, note = text(data, "verdict"), text(data, "note")
    actor, now = actor_of(request), now_of(request)
    return await _act(
        request,
        lambda s, t: case_feedback.close(s, t, actor=actor, now=now, verdict=verdict, note=note),
    )
