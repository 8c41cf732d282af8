"""Complaints and feedback: complaints per 10,000 accounts, repeat complaints, contact within the
committed hours and reply within the committed working days, escalations, categories; the
suggestions and praise received, by theme (docs/quality.md, 投诉与意见).

Each case is dated by the day it came in; one whose contact (or reply) deadline passed without
one counts as late before it is recorded. A withdrawn (cancelled) complaint is counted as
received but not judged.

A team filter keeps the cases its people handle (`handler_id`; a case nobody was assigned is no
team's): every figure of `MEASURES`. Complaints per 10,000 accounts stays the station's (its
`STATION_KEYS`): it is the station's customers complaining, whoever works the cases.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from store.models import Account, QualityTicketFacts, TicketType
from store.quality.context import Context
from store.quality.figures import (
    Drill,
    Measure,
    Sums,
    breakdown,
    count_if,
    figure,
    grouped,
    measured,
    ratio,
    roll_up,
    total,
)
from store.quality.names import Names
from store.quality.periods import months_in
from store.quality.types import Breakdown, Figure, Filters, Period

F = QualityTicketFacts
SECTION = "complaints"
KINDS = (TicketType.COMPLAINT, TicketType.SUGGESTION, TicketType.PRAISE)
PER = 10000
STATION_KEYS = ("complaints.per_10k",)
"""The figures a team filter leaves the station's."""


def conditions(now: datetime) -> dict[str, ColumnElement[bool]]:
    """Which cases count where: one definition for the sums and the drill-down."""
    complaint = F.kind == TicketType.COMPLAINT
    judged = and_(complaint, F.excluded.is_(False))
    return {
        "complaint": complaint,
        "repeat": and_(complaint, F.repeat.is_(True)),
        "contact_den": and_(judged, or_(F.contacted_at.is_not(None), F.contact_due < now)),
        "contact_met": and_(judged, F.contacted_at <= F.contact_due),
        "reply_den": and_(judged, or_(F.replied_at.is_not(None), F.reply_due < now)),
        "reply_met": and_(judged, F.replied_at <= F.reply_due),
        "escalated": and_(complaint, F.escalated.is_(True)),
        "suggestion": F.kind == TicketType.SUGGESTION,
        "praise": F.kind == TicketType.PRAISE,
    }


def sums(now: datetime) -> dict[str, ColumnElement[Any]]:
    c = conditions(now)
    names = {"complaints": "complaint", "suggestions": "suggestion"}
    wanted = ("complaints", "repeat", "contact_den", "contact_met", "reply_den", "reply_met",
              "escalated", "suggestions", "praise")  # fmt: skip
    return {name: count_if(c[names.get(name, name)]) for name in wanted}


def drills(now: datetime) -> dict[str, Drill]:
    c = conditions(now)
    return {
        "complaints.count": (c["complaint"], None, None),
        "complaints.per_10k": (c["complaint"], None, None),
        "complaints.repeat_rate": (c["complaint"], None, not_(c["repeat"])),
        "complaints.contact_rate": (c["contact_den"], None, c["contact_met"]),
        "complaints.reply_rate": (c["reply_den"], None, c["reply_met"]),
        "complaints.escalation_rate": (c["complaint"], None, not_(c["escalated"])),
        "complaints.suggestions": (c["suggestion"], None, None),
        "complaints.praise": (c["praise"], None, None),
    }


MEASURES: Mapping[str, Measure] = {
    "complaints.count": lambda s: (s["complaints"], None, None),
    "complaints.repeat_rate": lambda s: (
        ratio(s["repeat"], s["complaints"]), s["repeat"], s["complaints"],
    ),
    "complaints.contact_rate": lambda s: (
        ratio(s["contact_met"], s["contact_den"]), s["contact_met"], s["contact_den"],
    ),
    "complaints.reply_rate": lambda s: (
        ratio(s["reply_met"], s["reply_den"]), s["reply_met"], s["reply_den"],
    ),
    "complaints.escalation_rate": lambda s: (
        ratio(s["escalated"], s["complaints"]), s["escalated"], s["complaints"],
    ),
    "complaints.suggestions": lambda s: (s["suggestions"], None, None),
    "complaints.praise": lambda s: (s["praise"], None, None),
}  # fmt: skip
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("complaints.count", "category"),
    ("complaints.count", "area"),
    ("complaints.contact_rate", "area"),
    ("complaints.reply_rate", "category"),
    ("complaints.reply_rate", "area"),
    ("complaints.suggestions", "category"),
    ("complaints.praise", "category"),
)
_KIND_OF = {
    "complaints.suggestions": TicketType.SUGGESTION,
    "complaints.praise": TicketType.PRAISE,
}


def base(period: Period, filters: Filters, names: Names) -> Any:
    """The cases that came in during the period, narrowed by area and team (its people's)."""
    stmt = select(F.ticket_id).where(F.kind.in_(KINDS), F.day >= period.start, F.day < period.end)
    area_id = names.area_id(filters)
    if area_id is not None:
        stmt = stmt.where(F.area_id == area_id)
    handlers = names.handler_ids(filters)
    return stmt if handlers is None else stmt.where(F.handler_id.in_(handlers))


def filters_of(key: str, filters: Filters) -> Filters:
    """The filters figure `key` is computed with: without the team for `STATION_KEYS`."""
    return replace(filters, team_id=None) if key in STATION_KEYS else filters


def accounts(session: Session, names: Names, filters: Filters) -> int:
    """The accounts of the station (or of the filters' area) now."""
    stmt = select(func.count(Account.id))
    area_id = names.area_id(filters)
    if area_id is not None:
        stmt = stmt.where(Account.area_id == area_id)
    return int(session.scalar(stmt) or 0)


def per_10k(ctx: Context, s: Sums, period: Period, accounts: int) -> Figure:
    """Complaints per 10,000 accounts; a monthly target scaled by the period's months."""
    spec = ctx.conf.spec("complaints.per_10k")
    scale = months_in(period) if ctx.quality.per_10k_target_per_month else 1.0
    target = spec.target * scale if spec.target is not None else None
    value = s["complaints"] * PER / accounts if accounts else None
    fig = figure(ctx, "complaints.per_10k", value, numerator=s["complaints"], denominator=accounts)
    return Figure(fig.key, fig.section, fig.value, fig.unit, target, fig.better,
                  fig.numerator, fig.denominator)  # fmt: skip


def figure_of(ctx: Context, key: str, s: Sums) -> Figure:
    return measured(ctx, key, s, MEASURES)


def figures_of(ctx: Context, s: Sums, station: Sums, period: Period, accounts: int) -> list[Figure]:
    """The figures from the cases' sums `s`; complaints per 10,000 accounts from `station`'s
    (the same sums without the team filter)."""
    found = [figure_of(ctx, key, s) for key in MEASURES]
    found.insert(1, per_10k(ctx, station, period, accounts))
    return found


def _namer(names: Names, key: str, dimension: str) -> Callable[[Hashable], tuple[str, str]]:
    if dimension == "area":
        return names.area
    kind = _KIND_OF.get(key, TicketType.COMPLAINT)
    return lambda code: names.category((kind,), code)


def compute(
    session: Session,
    ctx: Context,
    names: Names,
    period: Period,
    filters: Filters,
    *,
    detail: bool = True,
) -> tuple[list[Figure], list[Breakdown]]:
    """Every complaint and feedback figure of the period and its breakdowns."""
    rows = grouped(session, sums(ctx.now), (F.kind, F.category, F.area_id),
                   base(period, filters, names))  # fmt: skip
    station = total(rows)
    if filters.team_id is not None:
        wide = base(period, replace(filters, team_id=None), names)
        station = total(grouped(session, sums(ctx.now), (), wide))
    figures = figures_of(ctx, total(rows), station, period, accounts(session, names, filters))
    if not detail:
        return figures, []
    breakdowns = []
    for key, dim in BREAKDOWNS:
        kind = _KIND_OF.get(key, TicketType.COMPLAINT)
        mine = {k: v for k, v in rows.items() if k[0] == kind}
        groups = roll_up(mine, (lambda k: k[2]) if dim == "area" else (lambda k: k[1]))
        breakdowns.append(breakdown(key, dim, groups, MEASURES[key], _namer(names, key, dim)))
    return figures, breakdowns


def by_day(
    session: Session, ctx: Context, names: Names, period: Period, filters: Filters
) -> dict[date, Sums]:
    rows = grouped(session, sums(ctx.now), (F.day,), base(period, filters, names))
    return {k[0]: v for k, v in rows.items() if isinstance(k[0], date)}
