"""The service-quality dashboard (issue 18; docs/manager.md): its pages and its JSON API under
/api/v1/quality/. Managers see the whole station, supervisors their team (the chat desk when
they are in none), agents only their own scorecard (bot/console/quality_scope.py); every route
needs a session with one of those roles, every POST the session's CSRF token, like the rest of
the console.

- ``GET /console/quality`` the dashboard; ``GET /console/quality/scorecards`` the scorecards;
- ``GET /api/v1/quality/meta`` what the caller may choose: sections, figures, filters'
  options, periods, grains, the plan's statuses and owners; the team the caller sees, and for
  managers every team with its people and crews (read only: `python -m store team` sets them);
- ``GET /api/v1/quality/dashboard?period=&area=&crew=&agent=&channel=&team=`` every figure of the
  period against its target, with the comparison period's value and the trend, the
  breakdowns and the bottleneck sentences;
- ``GET /api/v1/quality/series?key=&period=&grain=&...`` one figure over time (day, week,
  month);
- ``GET /api/v1/quality/drill?key=&period=&limit=&offset=&...`` the tickets, applications,
  complaints or conversations behind a figure, each linked to its console page where the
  caller's role may open it;
- the plan: quality_plan_api.py; the scorecards and their CSV: quality_scorecards_api.py.

Bad query values are 400s (bot/console/quality_input.py). The figures are computed by
store/quality, in the console's worker threads, once per request.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from bot.console import auth, quality_plan_api, quality_scorecards_api
from bot.console import quality_input as qi
from bot.console import quality_views as views
from bot.console.pages import page_response
from bot.console.quality_scope import FILTERS, SECTIONS, Scope, section_of
from bot.console.quality_state import config_of, db, install, now_of, scope, today_of
from bot.console.state import CONSOLE
from store import quality, roles
from store.services import quality_choices, teams
from store.services.teams import Roster

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BASE: Final = "/api/v1/quality"
Json = dict[str, Any]


def setup(app: web.Application) -> None:
    install(app)
    add = app.router
    add.add_get("/console/quality", dashboard_page, name="console-quality")
    add.add_get("/console/quality/scorecards", scorecards_page, name="console-scorecards")
    add.add_get(BASE + "/meta", get_meta, name="quality-meta")
    add.add_get(BASE + "/dashboard", get_dashboard, name="quality-dashboard")
    add.add_get(BASE + "/series", get_series, name="quality-series")
    add.add_get(BASE + "/drill", get_drill, name="quality-drill")
    quality_plan_api.setup(app, BASE)
    quality_scorecards_api.setup(app, BASE)


# --- pages --------------------------------------------------------------------------------


@auth.require(auth.QUALITY_ROLES, kind="page")
async def dashboard_page(request: web.Request) -> web.StreamResponse:
    files = request.app[CONSOLE].files
    return await page_response(request, files, "console-quality.html", auth.page_values(request))


@auth.require(auth.SCORECARD_ROLES, kind="page")
async def scorecards_page(request: web.Request) -> web.StreamResponse:
    files = request.app[CONSOLE].files
    values = auth.page_values(request)
    return await page_response(request, files, "console-scorecards.html", values)


# --- what the caller may choose -------------------------------------------------------------


def period_menu(today: date, months: int) -> list[Json]:
    """The period menu: the last `months` months, then their quarters, then their years,
    each newest first."""
    month_list = [quality.Period.month(today.year, today.month - back) for back in range(months)]
    quarters = dict.fromkeys(
        quality.Period.quarter(m.start.year, (m.start.month - 1) // 3 + 1) for m in month_list
    )
    years = dict.fromkeys(quality.Period.year(m.start.year) for m in month_list)
    return [{"period": p.label, "grain": str(p.grain)} for p in (*month_list, *quarters, *years)]


def roster_json(team: Roster) -> Json:
    return {
        "id": team.id,
        "name": team.name,
        "members": [
            {"username": m.username, "name": m.display_name, "role": m.role} for m in team.members
        ],
        "crews": [{"id": crew_id, "name": name} for crew_id, name in team.crews],
    }


def _choices_json(session: Session, mine: Scope, plans: bool) -> Json:
    """The filters' options the caller may use (a team's: its own people and crews; its team
    filter is always on, not a choice), who may own a measure (for who plans), and for those
    who see the station every team."""
    found = quality_choices.choices(session)
    team = mine.team
    options = {
        "area": found.areas,
        "crew": found.crews,
        "agent": found.agents,
        "channel": tuple(quality_choices.Choice(c, c) for c in found.channels),
        "team": found.teams,
    }
    if team is not None:
        options["crew"] = tuple(c for c in found.crews if int(c.value) in team.crew_ids)
        options["agent"] = tuple(c for c in found.agents if c.value in team.usernames)
    filters = {
        name: [{"value": c.value, "label": c.label} for c in options[name]]
        for name in FILTERS
        if name in mine.filters and (name != "team" or team is None)
    }
    owners = [{"value": c.value, "label": c.label} for c in found.staff] if plans else []
    every = [roster_json(t) for t in teams.rosters(session)] if "team" in filters else []
    return {"filters": filters, "owners": owners, "teams": every}


@auth.require(auth.SCORECARD_ROLES)
async def get_meta(request: web.Request) -> web.Response:
    mine, config, today = await scope(request), config_of(request), today_of(request)
    me = auth.staff_of(request)
    keys = [k for k in quality.figure_keys() if mine.sees_figure(k)]
    plans = me.role in roles.PLANS_QUALITY
    chosen = await db(request, lambda s: _choices_json(s, mine, plans))
    return web.json_response(
        {
            "me": {"username": me.username, "role": me.role, "scope": mine.name},
            "team": roster_json(mine.team) if mine.team is not None else None,
            "sections": [s for s in SECTIONS if s in mine.sections],
            "figures": [
                {"key": k, "label": quality.label(k), "section": section_of(k)} for k in keys
            ],
            **chosen,
            "periods": period_menu(today, config.menu_months),
            "default_period": quality.Period.month(today.year, today.month).label,
            "grains": list(qi.CHART_GRAINS),
            "scorecards": sorted(mine.scorecards),
            "plan": quality_plan_api.plan_meta(me.role),
        }
    )


# --- the figures ----------------------------------------------------------------------------


def _filters(mine: Scope, query: dict[str, str]) -> quality.Filters:
    """The filters asked for, each one the caller may use, narrowed to their scope's team."""
    given = qi.filter_values(query)
    mine.check_filters(given)
    return mine.narrow(qi.to_filters(given))


@auth.require(auth.QUALITY_ROLES)
async def get_dashboard(request: web.Request) -> web.Response:
    mine, today = await scope(request), today_of(request)
    query = qi.query_of(request, {"period", *FILTERS})
    filters = _filters(mine, query)
    period = qi.period_of(query, config_of(request), today)
    before, now = qi.comparison(period, today), now_of(request)

    def current(session: Session) -> tuple[quality.Snapshot, list[quality.Bottleneck]]:
        snap = quality.snapshot(session, period, filters, now=now, catch_up=False)
        return snap, quality.bottlenecks(snap)

    def compared(session: Session) -> quality.Snapshot:
        return quality.snapshot(session, before, filters, now=now, breakdowns=False, catch_up=False)

    def ready(session: Session) -> None:
        qi.check_filters(session, filters)
        quality.catch_up(session, now=now)

    await db(request, ready)
    # then the two periods side by side, each in a worker thread and a database session of its
    # own: the database works on both at once (a year's view waits for the slower one only)
    (snap, necks), earlier = await asyncio.gather(db(request, current), db(request, compared))
    return web.json_response(dashboard_json(snap, earlier, necks, mine))


def dashboard_json(
    snap: quality.Snapshot,
    earlier: quality.Snapshot,
    necks: list[quality.Bottleneck],
    mine: Scope,
) -> Json:
    before = {f.key: f for f in earlier.figures}
    figures = [f for f in snap.figures if mine.sees_figure(f.key)]
    keys = {f.key for f in figures}
    return {
        "period": views.period_json(snap.period),
        "compared_with": views.period_json(earlier.period),
        "scope": mine.name,
        "team": {"id": mine.team.id, "name": mine.team.name} if mine.team is not None else None,
        "figures": [views.figure_json(f, quality.label, before.get(f.key)) for f in figures],
        "breakdowns": [views.breakdown_json(b) for b in snap.breakdowns if b.key in keys],
        "bottlenecks": [views.bottleneck_json(n, quality.label) for n in necks if n.key in keys],
    }


@auth.require(auth.QUALITY_ROLES)
async def get_series(request: web.Request) -> web.Response:
    mine, today = await scope(request), today_of(request)
    query = qi.query_of(request, {"key", "period", "grain", *FILTERS})
    key = qi.key_of(query, quality.figure_keys())
    mine.check_key(key)
    filters = _filters(mine, query)
    period = qi.period_of(query, config_of(request), today)
    grain, now = qi.grain_of(query, period, config_of(request)), now_of(request)

    def work(session: Session) -> list[tuple[date, float | None]]:
        qi.check_filters(session, filters)
        return quality.series(session, key, period, grain, filters, now=now)

    points = await db(request, work)
    return web.json_response(
        {
            "key": key,
            "label": quality.label(key),
            "period": views.period_json(period),
            "grain": str(grain),
            "points": [{"date": d.isoformat(), "value": views.number(v)} for d, v in points],
        }
    )


@auth.require(auth.QUALITY_ROLES)
async def get_drill(request: web.Request) -> web.Response:
    mine, today, me = await scope(request), today_of(request), auth.staff_of(request)
    query = qi.query_of(request, {"key", "period", "limit", "offset", *FILTERS})
    key = qi.key_of(query, quality.figure_keys())
    mine.check_key(key)
    filters = _filters(mine, query)
    period = qi.period_of(query, config_of(request), today)
    limit, offset = qi.page_of(query, config_of(request))
    now = now_of(request)

    def work(session: Session) -> Json:
        qi.check_filters(session, filters)
        rows, total = quality.drill(
            session, key, period, filters, limit=limit, offset=offset, now=now
        )
        ids = [r.ref for r in rows if r.kind == "conversation"]
        ids += [v for r in rows for v in r.detail.values() if ":" in v]
        refs = quality_choices.conversation_refs(session, ids)
        return {
            "key": key,
            "label": quality.label(key),
            "period": views.period_json(period),
            "total": total,
            "limit": limit,
            "offset": offset,
            "rows": [views.drill_row_json(r, refs, me.role) for r in rows],
        }

    return web.json_response(await db(request, work))
