"""Repairs: arrival and restoration against the commitments of the area kind, outages, repeat
faults, callbacks; per crew, area, fault type and hour of day (docs/quality.md, 抢修).

A report merged into a known outage counts once, as the outage (repairs.merged_reports shows
how many reports were folded in; the outages' own figures, their notices and cancellations
included, are store/quality/outages.py); a repair whose commitment passed without an arrival (or a
restoration) counts as late before it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, not_, or_, select
from sqlalchemy.orm import Session

from store.models import QualityTicketFacts
from store.quality import outages
from store.quality.context import Context
from store.quality.facts.tickets import REPAIR
from store.quality.figures import (
    Drill,
    Measure,
    Sums,
    Target,
    breakdown,
    count_if,
    grouped,
    measured,
    ratio,
    roll_up,
    sum_if,
    total,
)
from store.quality.names import REPAIR_CATEGORIES, Names
from store.quality.types import Breakdown, Figure, Filters, Period

F = QualityTicketFacts
SECTION = "repairs"


def conditions(now: datetime) -> dict[str, ColumnElement[bool]]:
    """Which repairs count where (`now` judges the ones not recorded yet): one definition for
    the sums and the drill-down."""
    own = F.merged.is_(False)
    arrived = and_(own, F.arrived_at.is_not(None))
    restored = and_(own, F.restored_at.is_not(None))
    return {
        "own": own,
        "merged": F.merged.is_(True),
        "arr_den": and_(
            own, F.excluded.is_(False), or_(F.arrived_at.is_not(None), F.arrival_due < now)
        ),
        "arrived": arrived,
        "arr_met": and_(arrived, F.arrived_at <= F.arrival_due),
        "res_den": and_(arrived, or_(F.restored_at.is_not(None), F.restore_due < now)),
        "restored": restored,
        "res_met": and_(restored, F.restored_at <= F.restore_due),
        "repeat": and_(own, F.repeat.is_(True)),
        "cb_done": and_(restored, F.callback_done.is_(True)),
    }


def sums(now: datetime) -> dict[str, ColumnElement[Any]]:
    """The additive sums every repair figure is made of."""
    c = conditions(now)
    return {
        "tickets": count_if(c["own"]),
        "merged": count_if(c["merged"]),
        "arr_den": count_if(c["arr_den"]),
        "arr_met": count_if(c["arr_met"]),
        "arr_n": count_if(c["arrived"]),
        "arr_sum": sum_if(c["arrived"], F.arrival_minutes),
        "arr_commit": sum_if(c["arrived"], F.commit_minutes),
        "res_den": count_if(c["res_den"]),
        "res_met": count_if(c["res_met"]),
        "res_n": count_if(c["restored"]),
        "res_sum": sum_if(c["restored"], F.restoration_hours),
        "res_commit": sum_if(c["restored"], F.commit_hours),
        "repeat": count_if(c["repeat"]),
        "cb_den": count_if(c["restored"]),
        "cb_done": count_if(c["cb_done"]),
    }


def drills(now: datetime) -> dict[str, Drill]:
    c = conditions(now)
    return {
        "repairs.tickets": (c["own"], None, None),
        "repairs.merged_reports": (c["merged"], None, None),
        "repairs.arrival_minutes": (c["arrived"], F.arrival_minutes, c["arr_met"]),
        "repairs.arrival_on_time_rate": (c["arr_den"], F.arrival_minutes, c["arr_met"]),
        "repairs.restoration_hours": (c["restored"], F.restoration_hours, c["res_met"]),
        "repairs.restoration_on_time_rate": (c["res_den"], F.restoration_hours, c["res_met"]),
        "repairs.repeat_fault_rate": (c["own"], None, not_(c["repeat"])),
        "repairs.callback_rate": (c["restored"], None, c["cb_done"]),
    }


MEASURES: Mapping[str, Measure] = {
    "repairs.tickets": lambda s: (s["tickets"], None, None),
    "repairs.merged_reports": lambda s: (s["merged"], None, None),
    "repairs.arrival_minutes": lambda s: (
        ratio(s["arr_sum"], s["arr_n"]), s["arr_n"] - s["arr_met"], s["arr_n"],
    ),
    "repairs.arrival_on_time_rate": lambda s: (
        ratio(s["arr_met"], s["arr_den"]), s["arr_met"], s["arr_den"],
    ),
    "repairs.restoration_hours": lambda s: (
        ratio(s["res_sum"], s["res_n"]), s["res_n"] - s["res_met"], s["res_n"],
    ),
    "repairs.restoration_on_time_rate": lambda s: (
        ratio(s["res_met"], s["res_den"]), s["res_met"], s["res_den"],
    ),
    "repairs.repeat_fault_rate": lambda s: (
        ratio(s["repeat"], s["tickets"]), s["repeat"], s["tickets"],
    ),
    "repairs.callback_rate": lambda s: (
        ratio(s["cb_done"], s["cb_den"]), s["cb_done"], s["cb_den"],
    ),
}  # fmt: skip
TARGETS: Mapping[str, Target] = {
    "repairs.arrival_minutes": lambda s: ratio(s["arr_commit"], s["arr_n"]),
    "repairs.restoration_hours": lambda s: ratio(s["res_commit"], s["res_n"]),
}
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("repairs.tickets", "fault_type"),
    ("repairs.arrival_on_time_rate", "crew"),
    ("repairs.arrival_on_time_rate", "area"),
    ("repairs.arrival_on_time_rate", "fault_type"),
    ("repairs.arrival_on_time_rate", "hour"),
    ("repairs.arrival_minutes", "area"),
    ("repairs.restoration_on_time_rate", "crew"),
    ("repairs.restoration_on_time_rate", "area"),
    ("repairs.restoration_on_time_rate", "fault_type"),
    ("repairs.repeat_fault_rate", "area"),
    ("repairs.repeat_fault_rate", "fault_type"),
    ("repairs.callback_rate", "crew"),
)
_GROUPS = (F.crew_id, F.area_id, F.category)
_PICK: Mapping[str, Callable[[tuple[Hashable, ...], Context], Hashable]] = {
    "crew": lambda k, _: k[0],
    "area": lambda k, _: k[1],
    "fault_type": lambda k, _: k[2],
    "hour": lambda k, ctx: int(str(k[3])) - int(str(k[3])) % ctx.quality.hour_bucket,
}


def base(period: Period, filters: Filters, names: Names) -> Select[Any]:
    """The repairs that came in during the period, narrowed by area and crew (or team)."""
    stmt = select(F.ticket_id).where(F.kind == REPAIR, F.day >= period.start, F.day < period.end)
    area_id = names.area_id(filters)
    if area_id is not None:
        stmt = stmt.where(F.area_id == area_id)
    crews = names.crew_ids(filters)
    if crews is not None:
        stmt = stmt.where(F.crew_id.in_(crews))
    return stmt


def figure_of(ctx: Context, key: str, s: Sums) -> Figure:
    return measured(ctx, key, s, MEASURES, TARGETS)


def namer(names: Names, dimension: str) -> Callable[[Hashable], tuple[str, str]]:
    if dimension == "fault_type":
        return lambda code: names.category(REPAIR_CATEGORIES, code)
    return {"crew": names.crew, "area": names.area, "hour": names.hour}[dimension]


def compute(
    session: Session,
    ctx: Context,
    names: Names,
    period: Period,
    filters: Filters,
    *,
    detail: bool = True,
) -> tuple[list[Figure], list[Breakdown]]:
    """Every repair figure of the period and its breakdowns."""
    bucket = ctx.quality.hour_bucket  # in SQL: a year has a group per hour of each combination
    groups = (*_GROUPS, F.hour - F.hour % bucket) if detail else ()
    rows = grouped(session, sums(ctx.now), groups, base(period, filters, names))
    overall = total(rows)
    figures = [figure_of(ctx, key, overall) for key in MEASURES]
    found = outages.rows(session, ctx, period, names, filters)
    figures += outages.figures(ctx, found)
    if not detail:
        return figures, []
    by_dim = {dim: roll_up(rows, lambda k, d=dim: _PICK[d](k, ctx)) for dim in _PICK}  # type: ignore[misc]
    breakdowns = [
        breakdown(key, dim, by_dim[dim], MEASURES[key], namer(names, dim))
        for key, dim in BREAKDOWNS
    ]
    return figures, breakdowns + outages.breakdowns(names, found)


def by_day(
    session: Session, ctx: Context, names: Names, period: Period, filters: Filters
) -> dict[date, Sums]:
    """The sums of each local day of the period (for series)."""
    rows = grouped(session, sums(ctx.now), (F.day,), base(period, filters, names))
    found: dict[date, Sums] = {}
    for key, s in rows.items():
        found[key[0]] = s  # type: ignore[index]
    return found
