"""The back office's complaints and feedback (clerks and managers, `auth.CASE_ROLES`): the page
`/console/feedback` and its JSON API under `/api/v1/feedback`.

- ``GET /api/v1/feedback?type=&state=`` the cases of a type (complaint, violation, suggestion,
  praise; all when absent) in a state (open, overdue, closed), overdue first, with their
  contact and reply commitments; and who may handle them;
- ``GET /api/v1/feedback/{case_no}`` one case: the customer's words, commitments, history,
  the same customer's earlier complaints;
- ``POST /api/v1/feedback/{case_no}/assign`` ``{"handler", "note"?}``,
  ``/contact`` ``{"note"}``, ``/reply`` ``{"reply"}``,
  ``/close`` ``{"verdict", "note"?, "category"?}``, ``/category`` ``{"category"}``: each answers
  the case as it is now; an illegal step is a 409, a category the case's type does not have a
  400, a wrong value a 422.

`setup` also registers the applications (bot/console/applications_api.py); the pages' scripts
and style are the console's (bot/console/pages.py, /console/static/). Services:
store/services/case_feedback.py and case_feedback_views.py; the guide and the API reference:
docs/back-office-cases.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.console import applications_api, auth
from bot.console.case_common import (
    By,
    back_office_page,
    body,
    by_of,
    config_of,
    install,
    list_filters,
    not_found,
    now_of,
    quality_of,
    required_text,
    run,
    text,
)
from store.services import case_feedback, ticket_categories
from store.services.case_feedback_views import case_view, list_cases

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Step = Callable[["Session", Any], object]
"""A change of one case (the ticket row is the services' business, not the gateway's)."""


def setup(app: web.Application) -> None:
    """Register the feedback and application pages and APIs."""
    install(app)
    add = app.router
    add.add_get("/console/feedback", feedback_page, name="console-feedback")
    add.add_get("/api/v1/feedback", get_cases, name="feedback-list")
    add.add_get("/api/v1/feedback/{case_no}", get_case, name="feedback-case")
    add.add_post("/api/v1/feedback/{case_no}/assign", post_assign, name="feedback-assign")
    add.add_post("/api/v1/feedback/{case_no}/contact", post_contact, name="feedback-contact")
    add.add_post("/api/v1/feedback/{case_no}/reply", post_reply, name="feedback-reply")
    add.add_post("/api/v1/feedback/{case_no}/close", post_close, name="feedback-close")
    add.add_post("/api/v1/feedback/{case_no}/category", post_category, name="feedback-category")
    applications_api.setup(app)


@auth.require(auth.CASE_ROLES, kind="page")
async def feedback_page(request: web.Request) -> web.StreamResponse:
    return await back_office_page(request, "console-feedback.html")


@auth.require(auth.CASE_ROLES)
async def get_cases(request: web.Request) -> web.Response:
    settings, office = config_of(request)
    now = now_of(request)
    kind, state = list_filters(request)

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
    quality, now = quality_of(request), now_of(request)
    ticket_no = request.match_info["case_no"]

    def work(session: Session) -> dict[str, Any]:
        ticket = case_feedback.get_case(session, ticket_no)
        if ticket is None:
            raise not_found("case")
        if step is not None:
            step(session, ticket)
        category = ticket_categories.category_json(quality, ticket)
        return {**case_view(session, settings, office, ticket, now), "category": category}

    return work


@auth.require(auth.CASE_ROLES)
async def get_case(request: web.Request) -> web.Response:
    return web.json_response(await run(request, _case_work(request, None)))


async def _act(request: web.Request, step: Step) -> web.Response:
    return web.json_response(await run(request, _case_work(request, step)))


@auth.require(auth.CASE_ROLES)
async def post_assign(request: web.Request) -> web.Response:
    data = await body(request)
    handler, note, by = required_text(data, "handler"), text(data, "note"), by_of(request)
    return await _act(
        request, lambda s, t: case_feedback.assign(s, t, handler=handler, note=note, **by)
    )


@auth.require(auth.CASE_ROLES)
async def post_contact(request: web.Request) -> web.Response:
    note, by = required_text(await body(request), "note"), by_of(request)
    return await _act(request, lambda s, t: case_feedback.record_contact(s, t, note=note, **by))


@auth.require(auth.CASE_ROLES)
async def post_reply(request: web.Request) -> web.Response:
    reply, by = required_text(await body(request), "reply"), by_of(request)
    return await _act(request, lambda s, t: case_feedback.record_reply(s, t, reply=reply, **by))


def _choose(request: web.Request, code: str | None, by: By) -> Step:
    """Record the category `code` (nothing when None)."""
    quality = quality_of(request)

    def step(session: Session, ticket: Any) -> object:
        if code is None:
            return None
        return ticket_categories.choose(session, quality, ticket, code, **by)

    return step


@auth.require(auth.CASE_ROLES)
async def post_close(request: web.Request) -> web.Response:
    """Close the case, with its category when the body chooses one (both or neither)."""
    data = await body(request)
    verdict, note, by = text(data, "verdict"), text(data, "note"), by_of(request)
    choose = _choose(request, text(data, "category"), by)  # at the same time, just before

    def step(session: Session, ticket: Any) -> object:
        choose(session, ticket)
        return case_feedback.close(session, ticket, verdict=verdict, note=note, **by)

    return await _act(request, step)


@auth.require(auth.CASE_ROLES)
async def post_category(request: web.Request) -> web.Response:
    """Correct the case's category (a closed case too: the figures of its period follow)."""
    code = required_text(await body(request), "category")
    return await _act(request, _choose(request, code, by_of(request)))
