"""A figure over time: each day's sums (or chats) of the period, added up per step of the grain
and measured with the very function the snapshot uses, so a month's point equals that
month's snapshot."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import date

from sqlalchemy.orm import Session

from store.quality import applications, complaints, conversations, outages, repairs
from store.quality.context import Context
from store.quality.figures import Sums, add, zeros
from store.quality.names import Names
from store.quality.periods import local_day, steps
from store.quality.types import Figure, Filters, Grain, Period


def _step_of(parts: list[Period], day: date) -> int | None:
    """The index of the step holding `day` (steps are consecutive: a bisection)."""
    starts = [p.start for p in parts]
    index = bisect_right(starts, day) - 1
    return index if 0 <= index < len(parts) and day in parts[index] else None


def _sums_per_step(days: Mapping[date, Sums], parts: list[Period]) -> list[Sums]:
    found = [zeros() for _ in parts]
    for day, sums in days.items():
        index = _step_of(parts, day)
        if index is not None:
            add(found[index], sums)
    return found


def _outages(session: Session, ctx: Context, names: Names, period: Period, filters: Filters,
             key: str, parts: list[Period]) -> list[Figure]:  # fmt: skip
    per: list[list[outages.Judged]] = [[] for _ in parts]
    for row in outages.rows(session, ctx, period, names, filters):
        index = _step_of(parts, local_day(row.at, ctx.tz))
        if index is not None:
            per[index].append(row)
    return [next(f for f in outages.figures(ctx, r) if f.key == key) for r in per]


def _chats(session: Session, ctx: Context, names: Names, period: Period, filters: Filters,
           key: str, parts: list[Period]) -> list[Figure]:  # fmt: skip
    per = [conversations.Chats() for _ in parts]
    for day, chats in conversations.by_day(session, ctx, names, period, filters).items():
        index = _step_of(parts, day)
        if index is not None:
            per[index].merge(chats)
    return [conversations.figure_of(ctx, key, c) for c in per]


def figures(
    session: Session, ctx: Context, names: Names, key: str, period: Period, grain: Grain,
    filters: Filters,
) -> list[tuple[Period, Figure]]:  # fmt: skip
    """The figure `key` for each step of `period`; KeyError for an unknown key."""
    ctx.conf.spec(key)
    parts = steps(period, grain)
    section = key.split(".", 1)[0]
    if key in outages.KEYS:
        found = _outages(session, ctx, names, period, filters, key, parts)
    elif section == "conversations":
        found = _chats(session, ctx, names, period, filters, key, parts)
    elif section == "repairs":
        per = _sums_per_step(repairs.by_day(session, ctx, names, period, filters), parts)
        found = [repairs.figure_of(ctx, key, s) for s in per]
    elif section == "applications":
        per = _sums_per_step(applications.by_day(session, ctx, names, period, filters), parts)
        found = [applications.figure_of(ctx, key, s) for s in per]
    elif key == "complaints.per_10k":
        wide = complaints.filters_of(key, filters)  # the station's under a team filter
        per = _sums_per_step(complaints.by_day(session, ctx, names, period, wide), parts)
        accounts = complaints.accounts(session, names, filters)
        found = [complaints.per_10k(ctx, s, p, accounts) for s, p in zip(per, parts, strict=True)]
    else:
        per = _sums_per_step(complaints.by_day(session, ctx, names, period, filters), parts)
        found = [complaints.figure_of(ctx, key, s) for s in per]
    return list(zip(parts, found, strict=True))
