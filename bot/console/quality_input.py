"""Reading the service-quality API's query strings: the period, the chart's grain, the filters,
the figure, the drill-down's page, the scorecards' kind (JSON bodies: quality_plan_api.py with
bot/console/fields.py).

Every bad value is a 400 ({"error": {"code", "message"}}) that names the parameter and says
what it takes: an unknown parameter, a period that does not parse or lies outside the limits of
conf/quality_dashboard.yml, a grain with too many steps, a figure nobody defined, a number too
large. A filter naming an area, crew, agent, channel or team that does not exist is a 400 too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final

from aiohttp import web

from bot.console.state import ApiError
from store.configuration.quality_dashboard import DashboardConfig
from store.quality import Filters, Grain, Period
from store.services import quality_choices

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

VALUE_MAX: Final = 64
"""No query value is longer (a period range is 22 characters)."""
CHART_GRAINS: Final = (Grain.DAY, Grain.WEEK, Grain.MONTH)
KINDS: Final = ("agent", "crew")
_PATTERNS: Final = {
    "area": re.compile(r"[A-Za-z0-9_\-]{1,32}"),
    "crew": re.compile(r"[1-9][0-9]{0,8}"),
    "agent": re.compile(r"[A-Za-z0-9_.@\-]{1,64}"),
    "channel": re.compile(r"[a-z][a-z0-9_]{0,31}"),
    "team": re.compile(r"[1-9][0-9]{0,8}"),
}
_NUMBER: Final = re.compile(r"[0-9]{1,9}")


def bad(name: str, message: str) -> ApiError:
    return ApiError(400, "bad_request", f"{name}: {message}")


def query_of(request: web.Request, allowed: Collection[str]) -> dict[str, str]:
    """The query string as one value per name; an unknown or repeated name is refused."""
    found: dict[str, str] = {}
    for name, value in request.query.items():
        if name not in allowed:
            takes = ", ".join(sorted(allowed)) or "nothing"
            raise bad(name[:VALUE_MAX], f"unknown parameter (this route takes: {takes})")
        if name in found:
            raise bad(name, "given more than once")
        if len(value) > VALUE_MAX:
            raise bad(name, f"longer than {VALUE_MAX} characters")
        found[name] = value.strip()
    return {name: value for name, value in found.items() if value}


def period_of(query: dict[str, str], config: DashboardConfig, today: date) -> Period:
    """`period` (a month 2026-11, a quarter 2026-Q4, a year, a day or a range a..b; the
    running month when absent), within the configured years and length, not in the future."""
    text = query.get("period")
    if text is None:
        return Period.month(today.year, today.month)
    try:
        period = Period.parse(text)
    except ValueError as exc:
        raise bad("period", str(exc)) from None
    if period.start.year < config.earliest_year:
        raise bad("period", f"starts before {config.earliest_year}")
    if period.start > today:
        raise bad("period", "starts in the future")
    if (period.end - period.start).days > config.max_days:
        raise bad("period", f"longer than {config.max_days} days")
    return period


def comparison(period: Period, today: date) -> Period:
    """What the trend compares with: the previous period, or for a period still running its
    first days as many as have passed of this one (the 1st-23rd of October for November
    when it is the 23rd), so a running month is not set against a whole one."""
    previous = period.previous()
    if not period.start <= today < period.end:
        return previous
    elapsed = (today - period.start).days + 1
    last = min(previous.start + timedelta(days=elapsed), previous.end) - timedelta(days=1)
    return Period.days(previous.start, last)


def steps(period: Period, grain: Grain) -> int:
    """How many points a chart of `period` by `grain` has."""
    days = (period.end - period.start).days
    if grain is Grain.DAY:
        return days
    if grain is Grain.WEEK:
        first_monday = period.start - timedelta(days=period.start.weekday())
        return ((period.end - first_monday).days + 6) // 7
    months = (period.end.year - period.start.year) * 12 + period.end.month - period.start.month
    return months + (period.end.day > 1)


def grain_of(query: dict[str, str], period: Period, config: DashboardConfig) -> Grain:
    """`grain` day, week or month; by default the finest with at most ~60 points."""
    text = query.get("grain")
    if text is None:
        days = (period.end - period.start).days
        return Grain.DAY if days <= 62 else Grain.WEEK if days <= 190 else Grain.MONTH
    if text not in CHART_GRAINS:
        raise bad("grain", "one of day, week, month")
    grain = Grain(text)
    if steps(period, grain) > config.max_points:
        raise bad("grain", f"more than {config.max_points} points: choose a coarser grain")
    return grain


def filter_values(query: dict[str, str]) -> dict[str, str]:
    """The filters given (area, crew, agent, channel, team), each checked for its form."""
    given = {name: query[name] for name in _PATTERNS if name in query}
    for name, value in given.items():
        if not _PATTERNS[name].fullmatch(value):
            raise bad(name, "not a valid value")
    return given


def to_filters(given: dict[str, str]) -> Filters:
    crew, team = given.get("crew"), given.get("team")
    return Filters(
        area=given.get("area"),
        crew_id=int(crew) if crew else None,
        agent=given.get("agent"),
        channel=given.get("channel"),
        team_id=int(team) if team else None,
    )


def check_filters(session: Session, filters: Filters) -> None:
    """Each filter names an area, crew, agent, channel or team that exists (else a 400)."""
    if filters.area is not None and not quality_choices.area_exists(session, filters.area):
        raise bad("area", f"no area {filters.area}")
    if filters.crew_id is not None and quality_choices.crew_name(session, filters.crew_id) is None:
        raise bad("crew", f"no crew {filters.crew_id}")
    if filters.agent is not None and not quality_choices.chat_staff_exists(session, filters.agent):
        raise bad("agent", f"no agent {filters.agent}")
    if filters.channel is not None and not quality_choices.channel_seen(session, filters.channel):
        raise bad("channel", f"no conversation came on {filters.channel}")
    if filters.team_id is not None and quality_choices.team_name(session, filters.team_id) is None:
        raise bad("team", f"no team {filters.team_id}")


def key_of(query: dict[str, str], keys: Collection[str]) -> str:
    key = query.get("key")
    if key is None:
        raise bad("key", "required: the figure (see /api/v1/quality/meta)")
    if key not in keys:
        raise bad("key", f"no figure {key}")
    return key


def number(query: dict[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not _NUMBER.fullmatch(text) or not lowest <= int(text) <= highest:
        raise bad(name, f"a whole number from {lowest} to {highest}")
    return int(text)


def page_of(query: dict[str, str], config: DashboardConfig) -> tuple[int, int]:
    """`limit` and `offset` of the drill-down's rows."""
    limit = number(query, "limit", config.page_size, 1, config.max_page_size)
    return limit, number(query, "offset", 0, 0, config.max_offset)


def kind_of(query: dict[str, str]) -> str:
    kind = query.get("kind", "agent")
    if kind not in KINDS:
        raise bad("kind", "agent or crew")
    return kind
