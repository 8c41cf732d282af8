"""The back office's applications (clerks and managers, `auth.CASE_ROLES`): the page
`/console/applications` and its JSON API under `/api/v1/applications`.

- ``GET /api/v1/applications?type=&state=`` the queue by stage (open, overdue or closed), each
  stage with its limit in working days, each application with the deadline running now;
- ``GET /api/v1/applications/{application_no}`` one application: documents, history, decision,
  the stages it may move to;
- ``POST .../advance`` ``{"stage", "note"?, "received"?: [document codes]}``,
  ``.../send-back`` ``{"missing": [document codes], "note"?}``,
  ``.../approve`` ``{"reason"?, "received"?}``, ``.../reject`` ``{"reason"}``: each answers the
  application as it is now; an illegal step is a 409, a wrong value a 422.

A send-back and a rejection tell the customer what staff wrote (bot/console/case_notices.py);
every other step is announced by the notifier. Services: store/services/case_applications.py,
case_application_views.py; docs/back-office-cases.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.console import auth, case_notices
from bot.console.case_common import (
    back_office_page,
    body,
    by_of,
    codes,
    config_of,
    list_filters,
    not_found,
    now_of,
    required_text,
    run,
    text,
)
from bot.console.case_notices import Notice
from store.services import applications, case_applications
from store.services.case_application_views import application_view, queue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Step = Callable[["Session", Any], Notice | None]
"""A change of one application; the customer's notice it claimed, if any."""
PATH = "/api/v1/applications/{application_no}"


def setup(app: web.Application) -> None:
    add = app.router
    add.add_get("/console/applications", applications_page, name="console-applications")
    add.add_get("/api/v1/applications", get_queue, name="applications-queue")
    add.add_get(PATH, get_application, name="applications-one")
    add.add_post(PATH + "/advance", post_advance, name="applications-advance")
    add.add_post(PATH + "/send-back", post_send_back, name="applications-send-back")
    add.add_post(PATH + "/approve", post_approve, name="applications-approve")
    add.add_post(PATH + "/reject", post_reject, name="applications-reject")


@auth.require(auth.CASE_ROLES, kind="page")
async def applications_page(request: web.Request) -> web.StreamResponse:
    return await back_office_page(request, "console-applications.html")


@auth.require(auth.CASE_ROLES)
async def get_queue(request: web.Request) -> web.Response:
    settings, office = config_of(request)
    now = now_of(request)
    kind, state = list_filters(request)
    found = await run(request, lambda s: queue(s, settings, office, now, type=kind, state=state))
    return web.json_response(found)


async def _work(request: web.Request, step: Step | None) -> dict[str, Any]:
    """Apply `step` to the application in one transaction, then deliver its notice."""
    settings, _ = config_of(request)
    now = now_of(request)
    number = request.match_info["application_no"]

    def work(session: Session) -> tuple[dict[str, Any], Notice | None]:
        app = applications.get_by_no(session, number)
        if app is None:
            raise not_found("application")
        notice = step(session, app) if step is not None else None
        return application_view(session, settings, app, now), notice

    view, notice = await run(request, work)
    status = await case_notices.deliver(request.app, notice)
    if status is not None:
        view["customer_notice"] = status
    return view


@auth.require(auth.CASE_ROLES)
async def get_application(request: web.Request) -> web.Response:
    return web.json_response(await _work(request, None))


@auth.require(auth.CASE_ROLES)
async def post_advance(request: web.Request) -> web.Response:
    data = await body(request)
    stage = required_text(data, "stage")
    note, received = text(data, "note"), codes(data, "received")
    settings, office = config_of(request)
    by = by_of(request)

    def step(session: Session, app: Any) -> None:
        case_applications.advance(
            session, settings, office, app, stage, note=note, received=received, **by
        )

    return web.json_response(await _work(request, step))


@auth.require(auth.CASE_ROLES)
async def post_send_back(request: web.Request) -> web.Response:
    data = await body(request)
    missing, note = codes(data, "missing"), text(data, "note")
    settings, office = config_of(request)
    by = by_of(request)
    tell = case_notices.can_tell(request.app)

    def step(session: Session, app: Any) -> Notice | None:
        event = case_applications.send_back(
            session, settings, app, missing=missing, note=note, **by
        )
        if not tell:
            return None
        template = office.send_back_notice
        return case_notices.claim(session, settings, template, event, note=note, now=by["now"])

    return web.json_response(await _work(request, step))


@auth.require(auth.CASE_ROLES)
async def post_approve(request: web.Request) -> web.Response:
    data = await body(request)
    reason, received = text(data, "reason"), codes(data, "received")
    settings, _ = config_of(request)
    by = by_of(request)

    def step(session: Session, app: Any) -> None:
        case_applications.approve(session, settings, app, reason=reason, received=received, **by)

    return web.json_response(await _work(request, step))


@auth.require(auth.CASE_ROLES)
async def post_reject(request: web.Request) -> web.Response:
    reason = required_text(await body(request), "reason")
    settings, office = config_of(request)
    by = by_of(request)
    tell = case_notices.can_tell(request.app)

    def step(session: Session, app: Any) -> Notice | None:
        event = case_applications.reject(session, app, reason=reason, **by)
        if not tell:
            return None
        template = office.rejected_notice
        return case_notices.claim(session, settings, template, event, note=reason, now=by["now"])

    return web.json_response(await _work(request, step))
