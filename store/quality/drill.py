"""The items behind each figure (tickets, applications, outages; conversations in
store/quality/drill_chats.py), the misses first, then the newest: the same populations as the
figures (each section's `drills`), so a figure's denominator is the drill-down's total.

`DrillRow.detail` keys: area, crew, category, type, stage, channel, agent, handler, state, day,
intent, reason (those that apply); the values are what the console shows (Chinese names).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, null, or_, select
from sqlalchemy.orm import Session

from store.models import Application, Ticket
from store.quality import applications, complaints, repairs
from store.quality.context import Context
from store.quality.facts.applications import COMPLETED, OPEN
from store.quality.figures import Col, Drill
from store.quality.names import REPAIR_CATEGORIES, Names
from store.quality.types import DrillRow, Filters, Period

A, G = applications.A, applications.G
F = repairs.F
APPLICATION_NO: tuple[type[Any], Col, Col] = (
    Application,
    Application.application_no,
    Application.id,
)


@dataclass(frozen=True)
class Listing:
    """A drill-down's query (columns: ref or, with `ref`, its row's id; at, value, ok, then its
    own) and how to describe a row of it."""

    kind: str
    stmt: Select[*tuple[Any, ...]]
    detail: Callable[[Any], dict[str, str]]
    judged: bool
    value: Callable[[Any], float | None] | None = None
    """The row's measure when SQL does not give it (column 2)."""
    ref: tuple[type[Any], Col, Col] | None = None
    """(model, the number shown as ref, its id) when column 0 of `stmt` is that id: the number
    is looked up for the page's rows only. Joined for the whole population instead, a year's
    items would be joined twice a page (the total and the sorted page) to show twenty."""


def ok_column(ok: ColumnElement[bool] | None) -> ColumnElement[Any]:
    return case((ok, True), else_=False) if ok is not None else null()


def _order(listing: Listing, columns: Sequence[Any]) -> list[Any]:
    """Misses first (column 3), then the newest (column 1)."""
    ok, at = columns[3], columns[1]
    return [ok.asc(), at.desc()] if listing.judged else [at.desc()]


def _page_stmt(listing: Listing, limit: int, offset: int) -> Select[Any]:
    stmt = listing.stmt
    order = _order(listing, list(stmt.selected_columns))
    chosen = stmt.order_by(*order).limit(limit).offset(offset)
    if listing.ref is None:
        return chosen
    model, shown, key = listing.ref
    rows = chosen.subquery()
    columns = list(rows.c)
    return (
        select(shown, *columns[1:])
        .join_from(rows, model, key == columns[0])
        .order_by(*_order(listing, columns))
    )


def page(session: Session, listing: Listing, limit: int, offset: int) -> tuple[list[DrillRow], int]:
    """One page of a listing (misses first, newest first) and its total."""
    stmt = listing.stmt
    counted = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.execute(_page_stmt(listing, limit, offset)).all()
    found = [
        DrillRow(
            kind=listing.kind,
            ref=str(row[0]),
            at=row[1],
            value=_measure(listing, row),
            meets=None if not listing.judged or row[3] is None else bool(row[3]),
            detail=listing.detail(row),
        )
        for row in rows
    ]
    return found, int(counted or 0)


def _measure(listing: Listing, row: Any) -> float | None:
    if listing.value is not None:
        return listing.value(row)
    return None if row[2] is None else float(row[2])


def _value(column: Col | None) -> ColumnElement[Any] | Col:
    return column if column is not None else literal(None)


def tickets(
    ctx: Context, names: Names, key: str, period: Period, filters: Filters
) -> Listing | None:
    """Repairs and feedback cases behind a figure; None when `key` is not theirs."""
    found: Drill | None = repairs.drills(ctx.now).get(key)
    section_base = repairs.base
    kind, categories = "ticket", REPAIR_CATEGORIES
    if found is None:
        found = complaints.drills(ctx.now).get(key)
        section_base, kind = complaints.base, "feedback"
        filters = complaints.filters_of(key, filters)
    if found is None:
        return None
    population, value, ok = found
    stmt = (
        section_base(period, filters, names)
        .with_only_columns(
            F.ticket_id,
            F.created_at,
            _value(value),
            ok_column(ok),
            F.area_id,
            F.crew_id,
            F.category,
            F.kind,
            F.handler_id,
        )
        .where(population)
    )

    def detail(row: Any) -> dict[str, str]:
        cats = categories if kind == "ticket" else (row[7],)
        found = {"area": names.area(row[4])[0], "category": names.category(cats, row[6])[0]}
        if kind == "ticket":
            found["crew"] = names.crew(row[5])[0]
        return found if kind == "ticket" else found | names.handler(row[8])

    return Listing(kind, stmt, detail, ok is not None, ref=(Ticket, Ticket.ticket_no, Ticket.id))


def _within(column: Col, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _application_drills(
    ctx: Context, period: Period
) -> dict[str, tuple[ColumnElement[bool], Col | None, ColumnElement[bool] | None]]:
    start, end = period.bounds()
    done = and_(A.outcome == COMPLETED, _within(A.closed_day, period))
    late_open = and_(A.outcome == OPEN, A.due_at >= start, A.due_at < min(end, ctx.now))
    on_time = and_(done, A.closed_at <= A.due_at)
    return {
        "applications.received": (_within(A.day, period), None, None),
        "applications.completed": (done, A.station_days, None),
        "applications.end_to_end_days": (done, A.station_days, on_time),
        "applications.on_time_rate": (or_(done, late_open), A.station_days, on_time),
        "applications.first_time_rate": (done, None, and_(done, A.sent_back.is_(False))),
    }


def application_list(
    ctx: Context, names: Names, key: str, period: Period, filters: Filters
) -> Listing | None:
    found = _application_drills(ctx, period).get(key)
    if found is None:
        return stage_list(ctx, names, key, period, filters)
    population, value, ok = found
    stmt = select(
        A.application_id, A.created_at, _value(value), ok_column(ok), A.type, A.area_id,
        A.outcome, A.handler_id,
    ).where(population)  # fmt: skip
    stmt = applications.narrow(stmt, A, names, filters)

    def detail(row: Any) -> dict[str, str]:
        return {"type": names.app_type(row[4])[0], "area": names.area(row[5])[0],
                "state": str(row[6])} | names.handler(row[7])  # fmt: skip

    return Listing("application", stmt, detail, ok is not None, ref=APPLICATION_NO)


def stage_list(
    ctx: Context, names: Names, key: str, period: Period, filters: Filters
) -> Listing | None:
    if key not in ("applications.stage_days", "applications.stage_on_time_rate"):
        return None
    start, end = period.bounds()
    left = _within(G.left_day, period)
    population = left
    if key == "applications.stage_on_time_rate":
        late_open = and_(G.left_at.is_(None), G.due_at >= start, G.due_at < min(end, ctx.now))
        population = or_(left, late_open)
    ok = and_(left, G.left_at <= G.due_at)
    stmt = select(
        G.application_id, G.entered_at, G.working_days, ok_column(ok), G.type, G.stage,
        G.area_id, G.handler_id,
    ).where(population)  # fmt: skip
    stmt = applications.narrow(stmt, G, names, filters)

    def detail(row: Any) -> dict[str, str]:
        stage, area = names.stage((row[4], row[5]))[0], names.area(row[6])[0]
        return {"stage": stage, "area": area} | names.handler(row[7])

    return Listing("application", stmt, detail, True, ref=APPLICATION_NO)
