"""Repair work orders in the back office: the JSON API under /api/v1/tickets/ and the pages
/console/tickets (dispatchers, managers) and /console/crew (crews' phone page).

Same auth as the agent console (session cookie; X-CSRF-Token on every POST). Dispatchers and
managers (auth.DISPATCH_ROLES) use everything; crew members (auth.CREW_ROLES) read and move on
only their own crew's tickets: any other ticket is a 404, exactly like a number that does not
exist. Errors are {"error": {"code", "message"}}; a step the ticket cannot take now is a 409
whose error also lists `allowed` (what this caller may do instead); a category the ticket's type
does not have a 400. Reference: the English section of docs/back-office-repairs.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiohttp import web

from bot.console import auth, dispatch_input, dispatch_pages, fields
from bot.console.api import json_body
from bot.console.dispatch_input import Change, DispatchContext
from bot.console.state import CONSOLE, ApiError
from store.config import PROJECT_ROOT, default_conf_dir, load_settings
from store.configuration.dispatch import load_dispatch
from store.configuration.quality import read_quality
from store.services import (
    console_access,
    crews,
    dispatch,
    dispatch_queries,
    ticket_categories,
    ticket_photos,
)
from store.services import outages as outage_service
from store.services.dispatch import Actor, DispatchError, StepRefused
from store.services.dispatch_queries import Viewer
from store.services.dispatch_views import crew_json, label_json, ticket_detail, ticket_row
from store.workflow import TRANSITIONS, IllegalTransition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.services.dispatch_queries import Ticket

log = logging.getLogger(__name__)
T = TypeVar("T")
BASE: Final = "/api/v1/tickets"


CONTEXT: Final = web.AppKey("dispatch_context", DispatchContext)


class Refused(ApiError):
    """409 with the steps the caller may take instead."""

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(409, "illegal_transition", message)
        self.allowed = allowed

    def response(self) -> web.Response:
        body = {"error": {"code": self.code, "message": self.message, "allowed": self.allowed}}
        return web.json_response(body, status=409)


def _ctx(request: web.Request) -> DispatchContext:
    return request.app[CONTEXT]


def _actor(request: web.Request) -> Actor:
    me = auth.staff_of(request)
    return Actor(username=me.username, role=me.role)


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    try:
        return await request.app[CONSOLE].db(work)
    except StepRefused as exc:
        raise Refused(str(exc), exc.allowed) from None
    except IllegalTransition as exc:
        raise Refused(str(exc), ()) from None
    except (DispatchError, crews.CrewError) as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    except ticket_photos.PhotoError as exc:
        raise ApiError(exc.status, "photo_refused", str(exc)) from None
    except ticket_categories.CategoryError as exc:
        raise ApiError(400, "unknown_category", str(exc)) from None


def _viewer(session: Session, request: web.Request) -> Viewer:
    me = auth.staff_of(request)
    return dispatch_queries.viewer_for(session, me.user_id, me.role)


def _ticket(session: Session, request: web.Request, number: str) -> Ticket:
    """The ticket if this staff member may see it; 404 otherwise (whether or not it exists)."""
    ticket = dispatch_queries.visible_ticket(session, _viewer(session, request), number)
    if ticket is None:
        raise ApiError(404, "not_found", f"no ticket {number}")
    return ticket


def _detail(session: Session, request: web.Request, ticket: Ticket) -> dict[str, Any]:
    ctx, now = _ctx(request), request.app[CONSOLE].clock()
    deadline = dispatch_queries.deadline_of(session, ticket)
    may_open = bool(ticket.sender_id) and _may_open(session, request, ticket)
    detail = ticket_detail(
        session, ctx.settings, ctx.config, ticket, deadline,
        actor=_actor(request), may_open_conversation=may_open, now=now,
    )  # fmt: skip
    return {**detail, "category": ticket_categories.category_json(ctx.quality, ticket)}


def _may_open(session: Session, request: web.Request, ticket: Ticket) -> bool:
    handle = dispatch_queries.conversation_handle(session, ticket)
    return handle is not None and console_access.may_view(session, auth.staff_of(request), handle)


# --- reading ------------------------------------------------------------------------------


@auth.require(auth.DISPATCH_ROLES)
async def get_tickets(request: web.Request) -> web.Response:
    ctx, now = _ctx(request), request.app[CONSOLE].clock()
    cfg = ctx.config
    f = dispatch_input.ticket_filter(request.query, cfg.page_size, cfg.max_page_size)

    def work(session: Session) -> dict[str, Any]:
        page = dispatch_queries.list_tickets(
            session, _viewer(session, request), f, now=now, due_soon=cfg.due_soon
        )
        rows = [
            ticket_row(t, due, ctx.settings, now=now, due_soon=cfg.due_soon)
            for t, due in page.tickets
        ]
        return {"tickets": rows, "total": page.total, "counts": page.counts}

    return web.json_response(await _db(request, work))


def _repair_statuses() -> list[str]:
    """The statuses a repair can have, in the order of its state machine (fault, then what
    only hazards have): the complaints' statuses are not offered as filters here."""
    found: dict[str, None] = {}
    for ticket_type in sorted(dispatch.REPAIR_TYPES, key=lambda t: t != "fault"):
        found.update(dict.fromkeys(TRANSITIONS[ticket_type]))
    return list(found)


@auth.require(auth.DISPATCH_ROLES)
async def get_options(request: web.Request) -> web.Response:
    """What the list's filters and the ticket page's forms offer."""
    ctx = _ctx(request)
    labels = ctx.settings.labels

    def work(session: Session) -> dict[str, Any]:
        counts = crews.open_ticket_counts(session)
        return {
            "crews": [
                {
                    **(crew_json(c) or {}),
                    "active": c.active,
                    "areas": [a.name for a in c.areas],
                    "open_tickets": counts.get(c.id, 0),
                }
                for c in crews.all_crews(session)
            ],
            "areas": [{"id": a.id, "name": a.name} for a in dispatch_queries.areas(session)],
            "types": [
                {"code": t, "label": label_json(labels.ticket_type(t))}
                for t in sorted(dispatch.REPAIR_TYPES)
            ],
            "statuses": [
                {"code": s, "label": label_json(labels.ticket_status(s))}
                for s in _repair_statuses()
            ],
            "callback_results": [
                {"code": code, "label": label_json(label)}
                for code, label in ctx.config.callback_results.items()
            ],
        }

    return web.json_response(await _db(request, work))


@auth.require(auth.CREW_ROLES)
async def get_my_crew(request: web.Request) -> web.Response:
    """The phone page's data: my crew, its open tickets (the next one first)."""
    ctx, now = _ctx(request), request.app[CONSOLE].clock()

    def work(session: Session) -> dict[str, Any]:
        viewer = _viewer(session, request)
        crew = crews.get(session, viewer.crew_id) if viewer.crew_id else None
        queue = dispatch_queries.crew_queue(session, viewer, now=now)
        actor = _actor(request)
        rows = [
            {
                **ticket_row(t, due, ctx.settings, now=now, due_soon=ctx.config.due_soon),
                "description": t.description,
                "contact_phone": t.contact_phone,
                "steps": list(dispatch.allowed_steps(t, actor)),
            }
            for t, due in queue
        ]
        return {"crew": crew_json(crew), "tickets": rows}

    return web.json_response(await _db(request, work))


@auth.require(auth.CREW_ROLES)
async def get_ticket(request: web.Request) -> web.Response:
    number = dispatch_input.ticket_no(request)
    data = await _db(request, lambda s: _detail(s, request, _ticket(s, request, number)))
    return web.json_response(data)


@auth.require(auth.CREW_ROLES)
async def get_photo(request: web.Request) -> web.StreamResponse:
    number = dispatch_input.ticket_no(request)
    photo_id = dispatch_input.path_id(request, "photo_id")
    limits = _ctx(request).config.photos

    def work(session: Session) -> tuple[bytes, str]:
        photo = ticket_photos.get(session, _ticket(session, request, number).id, photo_id)
        if photo is None:
            raise ApiError(404, "not_found", f"no photo {photo_id}")
        try:
            return ticket_photos.read(limits, photo), photo.content_type
        except FileNotFoundError:
            raise ApiError(404, "not_found", f"photo {photo_id} is no longer on disk") from None

    body, content_type = await _db(request, work)
    response = web.Response(body=body, content_type=content_type)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


# --- changing -----------------------------------------------------------------------------


async def _change(
    request: web.Request, act: Callable[[Session, Ticket, Change], object]
) -> web.Response:
    """Read the body, find the ticket (404 unless visible), act, answer with the new page."""
    ctx, now, actor = _ctx(request), request.app[CONSOLE].clock(), _actor(request)
    number = dispatch_input.ticket_no(request)
    change = Change(await json_body(request), ctx, actor, now)

    def work(session: Session) -> dict[str, Any]:
        ticket = _ticket(session, request, number)
        act(session, ticket, change)
        session.refresh(ticket)
        return _detail(session, request, ticket)

    return web.json_response(await _db(request, work))


@auth.require(auth.CREW_ROLES)
async def post_step(request: web.Request) -> web.Response:
    def act(session: Session, ticket: Ticket, c: Change) -> object:
        return dispatch.record_step(
            session, ticket, c.text("status", 32), actor=c.actor,
            limits=c.ctx.config.step_time, now=c.now, at=c.at(), note=c.note(),
        )  # fmt: skip

    return await _change(request, act)


@auth.require(auth.CREW_ROLES)
async def post_note(request: web.Request) -> web.Response:
    def act(session: Session, ticket: Ticket, c: Change) -> object:
        text = c.text("note", c.ctx.config.max_note_chars)
        return dispatch.add_note(session, ticket, text, actor=c.actor, now=c.now)

    return await _change(request, act)


@auth.require(auth.CREW_ROLES)
async def post_category(request: web.Request) -> web.Response:
    """Correct the fault or hazard type (also on a finished ticket: the figures follow)."""

    def act(session: Session, ticket: Ticket, c: Change) -> object:
        code = c.text("category", 200)  # any string not a category's code is a 400
        return ticket_categories.choose(
            session, c.ctx.quality, ticket, code, actor=c.actor.username, now=c.now
        )

    return await _change(request, act)


@auth.require(auth.DISPATCH_ROLES)
async def post_assign(request: web.Request) -> web.Response:
    def act(session: Session, ticket: Ticket, c: Change) -> object:
        crew_id = fields.positive_int(c.data, "crew_id")
        crew = crews.get(session, crew_id)
        if crew is None:
            raise ApiError(422, "invalid", f"no crew {crew_id}")
        return dispatch.assign(
            session, ticket, crew, actor=c.actor, limits=c.ctx.config.step_time, now=c.now,
            at=c.at(), note=c.note(),
        )  # fmt: skip

    return await _change(request, act)


@auth.require(auth.DISPATCH_ROLES)
async def post_merge(request: web.Request) -> web.Response:
    def act(session: Session, ticket: Ticket, c: Change) -> object:
        number = c.text("outage_no", 20)
        outage = outage_service.get_by_no(session, number)
        if outage is None:
            raise ApiError(422, "invalid", f"no outage {number}")
        return dispatch.merge(session, ticket, outage, actor=c.actor, now=c.now, note=c.note())

    return await _change(request, act)


@auth.require(auth.DISPATCH_ROLES)
async def post_split(request: web.Request) -> web.Response:
    def act(session: Session, ticket: Ticket, c: Change) -> object:
        return dispatch.split(
            session, c.ctx.settings, ticket, actor=c.actor, now=c.now, note=c.note()
        )

    return await _change(request, act)


@auth.require(auth.DISPATCH_ROLES)
async def post_callback(request: web.Request) -> web.Response:
    def act(session: Session, ticket: Ticket, c: Change) -> object:
        return dispatch.callback(
            session, ticket, c.text("result", 32), actor=c.actor,
            labels=c.ctx.config.callback_results, now=c.now, note=c.note(),
        )  # fmt: skip

    return await _change(request, act)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 past `limit` (read here, not by aiohttp, whose body limit
    is the small one of the chat API)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "photo_refused", f"照片不能超过 {limit // 1024} KB")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "photo_refused", f"照片不能超过 {limit // 1024} KB")
        chunks.append(chunk)
    return b"".join(chunks)


@auth.require(auth.CREW_ROLES)
async def post_photo(request: web.Request) -> web.Response:
    """The photo as the request body (Content-Type image/jpeg, image/png or image/webp)."""
    number = dispatch_input.ticket_no(request)
    ctx, now, actor = _ctx(request), request.app[CONSOLE].clock(), _actor(request)
    await _db(request, lambda s: _ticket(s, request, number).id)  # 404 before reading the body
    if request.content_type not in ctx.config.photos.types:
        raise ApiError(415, "photo_refused", f"send one of {', '.join(ctx.config.photos.types)}")
    data = await _read_limited(request, ctx.config.photos.max_bytes)

    def work(session: Session) -> dict[str, Any]:
        ticket = _ticket(session, request, number)
        photo = ticket_photos.save(
            session, ctx.config.photos, ticket, data, actor=actor.username, now=now
        )
        return {"id": photo.id, "url": f"{BASE}/{ticket.ticket_no}/photos/{photo.id}"}

    return web.json_response(await _db(request, work), status=201)


# --- wiring -------------------------------------------------------------------------------


async def _load(app: web.Application) -> None:
    conf_dir = app[CONSOLE].settings.conf_dir or default_conf_dir()
    settings = await asyncio.to_thread(load_settings, conf_dir)
    config = await asyncio.to_thread(load_dispatch, conf_dir, PROJECT_ROOT)
    quality = await asyncio.to_thread(read_quality, conf_dir)
    app[CONTEXT] = DispatchContext(settings=settings, config=config, quality=quality)


def setup(app: web.Application) -> None:
    """Register the pages and the API (after the console's own setup: it needs app[CONSOLE])."""
    add = app.router
    dispatch_pages.setup(app)
    add.add_get(BASE, get_tickets, name="tickets-list")
    add.add_get(f"{BASE}/options", get_options, name="tickets-options")
    add.add_get(f"{BASE}/my-crew", get_my_crew, name="tickets-my-crew")
    add.add_get(f"{BASE}/{{ticket_no}}", get_ticket, name="tickets-get")
    add.add_post(f"{BASE}/{{ticket_no}}/steps", post_step, name="tickets-step")
    add.add_post(f"{BASE}/{{ticket_no}}/notes", post_note, name="tickets-note")
    add.add_post(f"{BASE}/{{ticket_no}}/assign", post_assign, name="tickets-assign")
    add.add_post(f"{BASE}/{{ticket_no}}/merge", post_merge, name="tickets-merge")
    add.add_post(f"{BASE}/{{ticket_no}}/split", post_split, name="tickets-split")
    add.add_post(f"{BASE}/{{ticket_no}}/callback", post_callback, name="tickets-callback")
    add.add_post(f"{BASE}/{{ticket_no}}/category", post_category, name="tickets-category")
    add.add_post(f"{BASE}/{{ticket_no}}/photos", post_photo, name="tickets-photo-add")
    add.add_get(f"{BASE}/{{ticket_no}}/photos/{{photo_id}}", get_photo, name="tickets-photo")
    app.on_startup.append(_load)
