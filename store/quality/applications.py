"""Applications: end-to-end station time against the committed total, on-time completion, the
share completed without a send-back (一次办结率), and each stage's time against its own limit;
per type and per stage, so the slowest stage shows (docs/quality.md, 业扩报装).

Three populations, each dated by its own day: applications received (their start), completed
(their completion), and still open past their deadline (the deadline's day, once passed: they
count as late before they finish). Stages likewise: stays that ended in the period, and open
stays whose limit passed in it. A team filter keeps the applications its people handled, and
their stages (`handler_id`, store/quality/facts/applications.py; one with no handler is no
team's).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from store.models import QualityApplicationFacts, QualityStageFacts
from store.quality.context import Context
from store.quality.facts.applications import COMPLETED, OPEN
from store.quality.figures import (
    Col,
    Key,
    Measure,
    Sums,
    Target,
    add,
    breakdown,
    count_if,
    grouped,
    measured,
    ratio,
    roll_up,
    sum_if,
    total,
)
from store.quality.names import Names
from store.quality.periods import local_day
from store.quality.types import Breakdown, Figure, Filters, Period

A = QualityApplicationFacts
G = QualityStageFacts
SECTION = "applications"

MEASURES: Mapping[str, Measure] = {
    "applications.received": lambda s: (s.get("received", 0), None, None),
    "applications.completed": lambda s: (s.get("done", 0), None, None),
    "applications.end_to_end_days": lambda s: (
        ratio(s.get("days", 0), s.get("done", 0)),
        s.get("done", 0) - s.get("done_on_time", 0),
        s.get("done", 0),
    ),
    "applications.on_time_rate": lambda s: (
        ratio(s.get("done_on_time", 0), s.get("done", 0) + s.get("overdue", 0)),
        s.get("done_on_time", 0),
        s.get("done", 0) + s.get("overdue", 0),
    ),
    "applications.first_time_rate": lambda s: (
        ratio(s.get("first_time", 0), s.get("done", 0)), s.get("first_time", 0), s.get("done", 0),
    ),
    "applications.stage_days": lambda s: (
        ratio(s.get("stage_days", 0), s.get("stays", 0)),
        s.get("stays", 0) - s.get("stays_on_time", 0),
        s.get("stays", 0),
    ),
    "applications.stage_on_time_rate": lambda s: (
        ratio(s.get("stays_on_time", 0), s.get("stays", 0) + s.get("stays_overdue", 0)),
        s.get("stays_on_time", 0),
        s.get("stays", 0) + s.get("stays_overdue", 0),
    ),
}  # fmt: skip
TARGETS: Mapping[str, Target] = {
    "applications.end_to_end_days": lambda s: ratio(s.get("limit", 0), s.get("done", 0)),
    "applications.stage_days": lambda s: ratio(s.get("stage_limit", 0), s.get("stays", 0)),
}
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("applications.received", "type"),
    ("applications.end_to_end_days", "type"),
    ("applications.on_time_rate", "type"),
    ("applications.first_time_rate", "type"),
    ("applications.stage_days", "stage"),
    ("applications.stage_on_time_rate", "stage"),
)


def _within(column: Col, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def narrow(stmt: Any, model: type[A] | type[G], names: Names, filters: Filters) -> Any:
    """`stmt` over applications (or stages) kept to the filters' area and team."""
    area_id = names.area_id(filters)
    if area_id is not None:
        stmt = stmt.where(model.area_id == area_id)
    handlers = names.handler_ids(filters)
    return stmt if handlers is None else stmt.where(model.handler_id.in_(handlers))


def _by(by_day: bool, *groups: Col) -> tuple[Col, ...]:
    """The groups, the last (the day) only `by_day`: grouping a year by day only to add the days
    up again costs the database a group per day and type (and stage)."""
    return groups if by_day else groups[:-1]


def _applications(
    session: Session, ctx: Context, names: Names, period: Period, filters: Filters, by_day: bool
) -> dict[Key, Sums]:
    """Received, completed and overdue-open sums per (type, day)."""
    start, end = period.bounds()
    done = A.outcome == COMPLETED
    found: dict[Key, Sums] = {}
    received = select(A.application_id).where(_within(A.day, period))
    rows = grouped(session, {"received": count_if(A.day.is_not(None))}, _by(by_day, A.type, A.day),
                   narrow(received, A, names, filters))  # fmt: skip
    completed = select(A.application_id).where(done, _within(A.closed_day, period))
    sums = {
        "done": count_if(done),
        "done_on_time": count_if(A.closed_at <= A.due_at),
        "days": sum_if(done, A.station_days),
        "limit": sum_if(done, A.limit_days),
        "first_time": count_if(A.sent_back.is_(False)),
    }
    more = grouped(
        session, sums, _by(by_day, A.type, A.closed_day), narrow(completed, A, names, filters)
    )
    overdue = select(A.type, A.due_at).where(
        A.outcome == OPEN, A.due_at >= start, A.due_at < min(end, ctx.now)
    )
    late = [((t, local_day(due, ctx.tz)), {"overdue": 1.0}) for t, due in
            session.execute(narrow(overdue, A, names, filters))]  # fmt: skip
    for key, s in [*rows.items(), *more.items(), *late]:
        add(found.setdefault(key if by_day else key[:1], {}), s)
    return found


def _stages(
    session: Session, ctx: Context, names: Names, period: Period, filters: Filters, by_day: bool
) -> dict[Key, Sums]:
    """Stage stays per (type, stage, day): ended in the period, or open past their limit."""
    start, end = period.bounds()
    ended = select(G.event_id).where(_within(G.left_day, period))
    sums = {
        "stays": count_if(G.left_day.is_not(None)),
        "stays_on_time": count_if(G.left_at <= G.due_at),
        "stage_days": sum_if(G.left_day.is_not(None), G.working_days),
        "stage_limit": sum_if(G.left_day.is_not(None), G.limit_days),
    }
    groups = _by(by_day, G.type, G.stage, G.left_day)
    rows = grouped(session, sums, groups, narrow(ended, G, names, filters))
    overdue = select(G.type, G.stage, G.due_at).where(
        G.left_at.is_(None), G.due_at >= start, G.due_at < min(end, ctx.now)
    )
    late = [((t, st, local_day(due, ctx.tz)), {"stays_overdue": 1.0}) for t, st, due in
            session.execute(narrow(overdue, G, names, filters))]  # fmt: skip
    found: dict[Key, Sums] = {}
    for key, s in [*rows.items(), *late]:
        add(found.setdefault(key if by_day else key[:2], {}), s)
    return found


def figure_of(ctx: Context, key: str, s: Sums) -> Figure:
    return measured(ctx, key, s, MEASURES, TARGETS)


def _namer(names: Names, dimension: str) -> Callable[[Hashable], tuple[str, str]]:
    return names.app_type if dimension == "type" else names.stage


def compute(
    session: Session,
    ctx: Context,
    names: Names,
    period: Period,
    filters: Filters,
    *,
    detail: bool = True,
) -> tuple[list[Figure], list[Breakdown]]:
    """Every application figure of the period and its breakdowns."""
    apps = _applications(session, ctx, names, period, filters, by_day=False)
    stages = _stages(session, ctx, names, period, filters, by_day=False)
    overall = total(apps)
    add(overall, total(stages))
    figures = [figure_of(ctx, key, overall) for key in MEASURES]
    if not detail:
        return figures, []
    by_type = roll_up(apps, lambda k: k[0])
    by_stage = roll_up(stages, lambda k: (k[0], k[1]))
    breakdowns = [
        breakdown(
            key, dim, by_type if dim == "type" else by_stage, MEASURES[key], _namer(names, dim)
        )
        for key, dim in BREAKDOWNS
    ]
    return figures, breakdowns


def by_day(
    session: Session, ctx: Context, names: Names, period: Period, filters: Filters
) -> dict[date, Sums]:
    """The sums of each local day of the period (for series)."""
    found: dict[date, Sums] = {}
    for rows in (
        _applications(session, ctx, names, period, filters, by_day=True),
        _stages(session, ctx, names, period, filters, by_day=True),
    ):
        for key, s in rows.items():
            day = key[-1]
            if isinstance(day, date):
                add(found.setdefault(day, {}), s)
    return found
