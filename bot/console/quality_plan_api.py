"""The improvement plan (the paper's 3.1) on the dashboard: measures with a title, the figure
each should move, its baseline and target, an owner, a due date, a status and notes.

- ``GET /api/v1/quality/plan`` the measures the caller may see (managers: all; supervisors:
  those on the figures of their team, or of the chat desk, read only), each with its owner's
  name and whether it is past its due date;
- ``POST /api/v1/quality/plan`` ``{"title", "figure", "owner", "due": "YYYY-MM-DD",
  "baseline"?, "target"?, "status"?, "notes"?}`` a new measure (managers); baseline and target
  in the figure's unit (a rate 0..1);
- ``POST /api/v1/quality/plan/{measure_id}`` the same fields, each optional: the ones given
  are changed (null clears the baseline, target or notes); the measure as it is now.

A wrong field is a 422 naming it (bot/console/fields.py), an unknown measure a 404. The
measures are kept by store/services/quality_plan.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from bot.console import auth, fields
from bot.console.api import json_body
from bot.console.quality_state import config_of, db, scope, today_of
from bot.console.state import CONSOLE, ApiError
from store import quality, roles
from store.configuration.quality_dashboard import DashboardConfig
from store.services import quality_choices, quality_plan

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.services.quality_plan import QualityMeasure

Json = dict[str, Any]
ID: Final = re.compile(r"[1-9][0-9]{0,8}")
CLOSED: Final = frozenset({quality_plan.MeasureStatus.DONE, quality_plan.MeasureStatus.DROPPED})
"""Statuses of a measure that no longer runs: never overdue."""


def setup(app: web.Application, base: str) -> None:
    add = app.router
    add.add_get(base + "/plan", get_plan, name="quality-plan")
    add.add_post(base + "/plan", post_measure, name="quality-plan-create")
    add.add_post(base + "/plan/{measure_id}", post_measure_change, name="quality-plan-change")


def plan_meta(role: str) -> Json:
    """What the page needs to show and edit the plan."""
    return {
        "statuses": list(quality_plan.MEASURE_STATUSES),
        "editable": role in roles.PLANS_QUALITY,
    }


def measure_json(measure: QualityMeasure, names: dict[str, str], today: date) -> Json:
    due = measure.due_date
    return {
        "id": measure.id,
        "title": measure.title,
        "figure": measure.figure_key,
        "figure_label": quality.label(measure.figure_key),
        "baseline": measure.baseline,
        "target": measure.target,
        "owner": measure.owner,
        "owner_name": names.get(measure.owner, measure.owner),
        "due": due.isoformat() if due is not None else None,
        "status": measure.status,
        "notes": measure.notes,
        "overdue": due is not None and due < today and measure.status not in CLOSED,
        "created_at": measure.created_at.isoformat(),
        "updated_at": measure.updated_at.isoformat(),
    }


def _json_list(session: Session, measures: list[QualityMeasure], today: date) -> list[Json]:
    names = quality_choices.staff_names(session, (m.owner for m in measures if m.owner))
    return [measure_json(m, names, today) for m in measures]


@auth.require(auth.QUALITY_ROLES)
async def get_plan(request: web.Request) -> web.Response:
    mine, today = await scope(request), today_of(request)

    def work(session: Session) -> list[Json]:
        found = quality_plan.list_measures(session)
        return _json_list(session, [m for m in found if mine.sees_key(m.figure_key)], today)

    role = auth.staff_of(request).role
    return web.json_response({"measures": await db(request, work), **plan_meta(role)})


def _fields(data: Json, config: DashboardConfig) -> Json:
    """The fields given, each checked for its form (None: given as null)."""
    found: Json = {}
    texts = {"title": config.title_max, "figure": 64, "owner": 64, "status": 32}
    for name, limit in {**texts, "notes": config.notes_max}.items():
        if name in data:
            found[name] = fields.optional_text(data, name, limit)
    for name in ("baseline", "target"):
        if name in data:
            found[name] = fields.optional_number(data, name, config.value_max)
    if "due" in data:
        found["due"] = fields.optional_date(data, "due")
    for name in ("title", "figure", "owner", "due", "status"):
        if name in found and found[name] is None:
            raise ApiError(422, "invalid", f"{name} may not be empty")
    return found


def _new(data: Json, config: DashboardConfig) -> Json:
    """A new measure's arguments: title, figure, owner and due date required."""
    given = _fields(data, config)
    for name in ("title", "figure", "owner", "due"):
        if name not in given:
            raise ApiError(422, "invalid", f"{name} is required")
    return {
        "title": given["title"],
        "figure_key": given["figure"],
        "owner": given["owner"],
        "due_date": given["due"],
        "baseline": given.get("baseline"),
        "target": given.get("target"),
        "status": given.get("status") or quality_plan.MeasureStatus.PLANNED,
        "notes": given.get("notes"),
    }


def _edit(data: Json, config: DashboardConfig) -> quality_plan.MeasureChanges:
    """An edit: the fields given change, a null baseline, target or notes clears it."""
    given = _fields(data, config)
    return quality_plan.MeasureChanges(
        title=given.get("title"),
        figure_key=given.get("figure"),
        baseline=given.get("baseline"),
        target=given.get("target"),
        owner=given.get("owner"),
        due_date=given.get("due"),
        status=given.get("status"),
        notes=given.get("notes"),
        clear_baseline="baseline" in given and given["baseline"] is None,
        clear_target="target" in given and given["target"] is None,
        clear_notes="notes" in given and given["notes"] is None,
    )


async def _save(request: web.Request, work: Callable[[Session], Json]) -> Json:
    """`work` in one unit of work; the plan's refusals (unknown figure or owner...) as 422."""
    try:
        return await db(request, work)
    except quality_plan.PlanError as exc:
        raise ApiError(422, "invalid", str(exc)) from None


@auth.require(auth.QUALITY_PLAN_ROLES)
async def post_measure(request: web.Request) -> web.Response:
    arguments = _new(await json_body(request), config_of(request))
    me, now, today = auth.staff_of(request), request.app[CONSOLE].clock(), today_of(request)

    def work(session: Session) -> Json:
        measure = quality_plan.create_measure(session, **arguments, actor=me.username, now=now)
        return _json_list(session, [measure], today)[0]

    return web.json_response(await _save(request, work), status=201)


@auth.require(auth.QUALITY_PLAN_ROLES)
async def post_measure_change(request: web.Request) -> web.Response:
    raw = request.match_info["measure_id"]
    if not ID.fullmatch(raw):
        raise ApiError(404, "not_found", "no such measure")
    changes = _edit(await json_body(request), config_of(request))
    now, today = request.app[CONSOLE].clock(), today_of(request)

    def work(session: Session) -> Json:
        measure = quality_plan.get_measure(session, int(raw))
        if measure is None:
            raise ApiError(404, "not_found", "no such measure")
        quality_plan.update_measure(session, measure, changes, now=now)
        return _json_list(session, [measure], today)[0]

    return web.json_response(await _save(request, work))
