"""The outages' console API under /api/v1/outages (dispatchers, supervisors, managers), behind
the console's session and CSRF like every staff route (bot/console/auth.py).

| route | what |
|---|---|
| GET  /api/v1/outages | the outages with their notices and delivery progress, and the suspects |
| GET  /api/v1/outages/options | areas (with subscriber counts), feeders, kinds, commitments |
| POST /api/v1/outages | publish (201; `warning` when the notice commitment is missed) |
| POST /api/v1/outages/suspected/publish | a suspect as a fault outage, its reports attached |
| POST /api/v1/outages/{outage_no}/edit, postpone, cancel, progress, safety, restore | |

Times are ISO 8601; without an offset they are station time. Errors are the console's
{"error": {"code", "message"}}: 404 unknown outage, 409 not in this state, 422 a bad value.
Reference: docs/outages.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aiohttp import web

from bot.console import auth
from bot.console.api import json_body
from bot.console.fields import optional_text, required_text
from bot.console.state import CONSOLE, ApiError
from store.config import Settings
from store.configuration.outages import OutageConfig
from store.outages import publishing, suspected, views
from store.outages.publishing import Changes, Desk, Draft, OutageError, OutageStateError, Outcome
from store.outages.targets import TargetError, of_outage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
BASE: Final = "/api/v1/outages"
TEXT_LIMIT: Final = publishing.MAX_TEXT
ACTIONS: Final = ("edit", "postpone", "cancel", "progress", "safety", "restore")


@dataclass(frozen=True)
class OutageContext:
    settings: Settings
    config: OutageConfig


CONTEXT: Final = web.AppKey("outage_context", OutageContext)


async def _db(request: web.Request, work: Callable[[Session], T]) -> T:
    try:
        return await request.app[CONSOLE].db(work)
    except LookupError as exc:
        raise ApiError(404, "not_found", f"no outage {exc}") from None
    except OutageStateError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except (OutageError, TargetError) as exc:
        raise ApiError(422, "invalid", str(exc)) from None


def _desk(request: web.Request, session: Session) -> Desk:
    ctx, me = request.app[CONTEXT], auth.staff_of(request)
    now = request.app[CONSOLE].clock()
    return Desk(session, ctx.settings, ctx.config, me.username, me.role, now)


def _areas(data: Mapping[str, Any], required: bool) -> tuple[str, ...] | None:
    value = data.get("areas")
    if value is None:
        return () if required else None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(422, "invalid", "areas must be a list of strings")
    return tuple(v.strip()[:40] for v in value if v.strip())


def _time(request: web.Request, data: Mapping[str, Any], name: str) -> Any:
    text = optional_text(data, name, 40)
    try:
        return publishing.parse_time(text, request.app[CONTEXT].settings.tz)
    except OutageError as exc:
        raise ApiError(422, "invalid", f"{name}: {exc}") from None


def _outcome(session: Session, request: web.Request, outcome: Outcome) -> dict[str, Any]:
    ctx, now = request.app[CONTEXT], request.app[CONSOLE].clock()
    targets = of_outage(session, outcome.outage)
    return {
        "outage": views.outage_json(outcome.outage, targets, ctx.settings, ctx.config, now=now),
        "notice": views.notice_json(outcome.notice, None) if outcome.notice else None,
        "warning": outcome.warning.as_json() if outcome.warning else None,
        "attached": list(outcome.attached),
    }


@auth.require(auth.OUTAGE_ROLES)
async def list_outages(request: web.Request) -> web.Response:
    ctx, now = request.app[CONTEXT], request.app[CONSOLE].clock()

    def work(session: Session) -> dict[str, Any]:
        rows = views.outages_json(session, ctx.settings, ctx.config, now=now)
        found = suspected.find(session, ctx.config, now=now)
        return {"outages": rows, "suspects": [views.suspect_json(s) for s in found]}

    return web.json_response(await _db(request, work))


@auth.require(auth.OUTAGE_ROLES)
async def options(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = await _db(request, lambda s: views.options_json(s, ctx.settings, ctx.config))
    return web.json_response(body)


@auth.require(auth.OUTAGE_ROLES)
async def publish(request: web.Request) -> web.Response:
    data = await json_body(request)
    start = _time(request, data, "starts_at")
    if start is None:
        raise ApiError(422, "invalid", "starts_at is required")
    draft = Draft(
        kind=required_text(data, "kind", 16),
        areas=_areas(data, True) or (),
        feeder=optional_text(data, "feeder", 40),
        starts_at=start,
        expected_restore_at=_time(request, data, "expected_restore_at"),
        reason=required_text(data, "reason", TEXT_LIMIT),
        advice=optional_text(data, "advice", TEXT_LIMIT),
        reason_en=optional_text(data, "reason_en", TEXT_LIMIT),
        advice_en=optional_text(data, "advice_en", TEXT_LIMIT),
    )

    def work(session: Session) -> dict[str, Any]:
        outcome = publishing.publish(_desk(request, session), draft)
        return _outcome(session, request, outcome)

    return web.json_response(await _db(request, work), status=201)


@auth.require(auth.OUTAGE_ROLES)
async def publish_suspect(request: web.Request) -> web.Response:
    data = await json_body(request)
    confirmation = suspected.Confirmation(
        key=required_text(data, "key", 40),
        reason=required_text(data, "reason", TEXT_LIMIT),
        expected_restore_at=_time(request, data, "expected_restore_at"),
        advice=optional_text(data, "advice", TEXT_LIMIT),
    )

    def work(session: Session) -> dict[str, Any]:
        outcome = suspected.publish(_desk(request, session), confirmation)
        return _outcome(session, request, outcome)

    return web.json_response(await _db(request, work), status=201)


def _change(
    request: web.Request, action: str, data: Mapping[str, Any]
) -> Callable[[Desk], Outcome]:
    """What the route's action does to the outage it names."""
    number = request.match_info["outage_no"][:20]
    note = optional_text(data, "note", TEXT_LIMIT)
    start = _time(request, data, "starts_at")
    end = _time(request, data, "expected_restore_at")

    def change(desk: Desk) -> Outcome:
        outage = publishing.get(desk.session, number)
        if action == "edit":
            return publishing.edit(desk, outage, _changes(data, start, end, note))
        if action == "postpone":
            if start is None or end is None:
                raise OutageError("starts_at and expected_restore_at are required")
            return publishing.postpone(desk, outage, start, end, note)
        if action == "cancel":
            return publishing.cancel(desk, outage, note)
        if action == "progress":
            cause = optional_text(data, "cause", TEXT_LIMIT)
            cause_en = optional_text(data, "cause_en", TEXT_LIMIT)
            return publishing.progress(
                desk, outage, cause=cause, cause_en=cause_en, expected=end, note=note
            )
        if action == "safety":
            return publishing.safety(desk, outage, note)
        return publishing.restore(desk, outage, _time(request, data, "restored_at"))

    return change


def _changes(data: Mapping[str, Any], start: Any, end: Any, note: str | None) -> Changes:
    """An edit's fields: those given change (an empty advice clears it), the others stay."""

    def text(name: str) -> str | None:
        return (optional_text(data, name, TEXT_LIMIT) or "") if name in data else None

    return Changes(
        areas=_areas(data, False),
        feeder=optional_text(data, "feeder", 40),
        reason=text("reason"),
        reason_en=text("reason_en"),
        advice=text("advice"),
        advice_en=text("advice_en"),
        starts_at=start,
        expected_restore_at=end,
        note=note,
    )


def _action_handler(action: str) -> auth.Handler:
    """The handler of POST /api/v1/outages/{outage_no}/<action>."""

    @auth.require(auth.OUTAGE_ROLES)
    async def handler(request: web.Request) -> web.Response:
        change = _change(request, action, await json_body(request))

        def work(session: Session) -> dict[str, Any]:
            return _outcome(session, request, change(_desk(request, session)))

        return web.json_response(await _db(request, work))

    handler.__name__ = f"outage_{action}"
    return handler


def setup(app: web.Application) -> None:
    add = app.router
    add.add_get(BASE, list_outages, name="outages")
    add.add_get(f"{BASE}/options", options, name="outages-options")
    add.add_post(BASE, publish, name="outages-publish")
    add.add_post(f"{BASE}/suspected/publish", publish_suspect, name="outages-suspect-publish")
    for action in ACTIONS:
        add.add_post(
            f"{BASE}/{{outage_no}}/{action}", _action_handler(action), name=f"outage-{action}"
        )
