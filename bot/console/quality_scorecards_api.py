"""The scorecards (issue 18: tied to the performance review): per agent and per repair crew,
for a period (a month by default), each figure beside the station's average.

- ``GET /api/v1/quality/scorecards?period=&kind=agent|crew``
- ``GET /api/v1/quality/scorecards.csv?period=&kind=`` the same as CSV (bot/console/
  quality_export.py), for the review.

Managers see both kinds; supervisors their team's agents and crews (every agent's when they
are in no team: the chat desk), beside the whole station's; an agent only their own card: with
no chats in the period it is their card with nothing measured, beside the station.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.console import auth
from bot.console import quality_input as qi
from bot.console import quality_views as views
from bot.console.quality_export import scorecards_csv
from bot.console.quality_scope import Scope
from bot.console.quality_state import config_of, db, now_of, scope, today_of
from store import quality
from store.services.console_sessions import StaffIdentity

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def setup(app: web.Application, base: str) -> None:
    add = app.router
    add.add_get(base + "/scorecards", get_scorecards, name="quality-scorecards")
    add.add_get(base + "/scorecards.csv", get_scorecards_csv, name="quality-scorecards-csv")


def own_card(cards: list[quality.Scorecard], me: StaffIdentity) -> list[quality.Scorecard]:
    """The caller's card alone; an empty one beside the station when they had no chats."""
    for card in cards:
        if card.subject == me.username:
            return [card]
    if not cards:
        return []
    station = cards[0].station
    empty = tuple(replace(f, value=None, numerator=None, denominator=None) for f in station)
    return [quality.Scorecard("agent", me.username, me.display_name, empty, station)]


async def _cards(
    request: web.Request, mine: Scope
) -> tuple[quality.Period, str, list[quality.Scorecard]]:
    me = auth.staff_of(request)
    query = qi.query_of(request, {"period", "kind"})
    kind = qi.kind_of(query)
    mine.check_kind(kind)
    period, now = qi.period_of(query, config_of(request), today_of(request)), now_of(request)

    team = mine.team.id if mine.team is not None else None

    def work(session: Session) -> list[quality.Scorecard]:
        return quality.scorecards(session, period, kind, now=now, team_id=team)

    cards = await db(request, work)
    return period, kind, own_card(cards, me) if mine.own_only else cards


@auth.require(auth.SCORECARD_ROLES)
async def get_scorecards(request: web.Request) -> web.Response:
    mine = await scope(request)
    period, kind, cards = await _cards(request, mine)
    keys = [k for k in quality.figure_keys() if mine.sees_figure(k)]
    body: dict[str, Any] = {
        "period": views.period_json(period),
        "kind": kind,
        "cards": [views.scorecard_json(card, quality.label, keys) for card in cards],
    }
    return web.json_response(body)


@auth.require(auth.SCORECARD_ROLES)
async def get_scorecards_csv(request: web.Request) -> web.Response:
    period, kind, cards = await _cards(request, await scope(request))
    name = f"scorecards-{kind}-{period.label.replace('..', '_')}.csv"
    return web.Response(
        body=scorecards_csv(period, kind, cards, quality.label),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
