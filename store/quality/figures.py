"""The small arithmetic every section shares: additive sums grouped by SQL, a figure from its
spec, ratios, means and percentiles, and breakdowns built from grouped sums.

Conventions of `numerator`/`denominator`: for a rate they are the rate's; for a mean or a
percentile the numerator is the items that missed their own commitment or the figure's
target, the denominator the items measured. Bottlenecks count misses from them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, func
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.quality.context import Context
from store.quality.types import Better, Breakdown, BreakdownRow, Figure, Filters, Period

if TYPE_CHECKING:
    from store.quality.names import Names

Sums = dict[str, float]
Key = tuple[Hashable, ...]
Col = ColumnElement[Any] | InstrumentedAttribute[Any]
"""A column or SQL expression."""
Drill = tuple[ColumnElement[bool], Col | None, ColumnElement[bool] | None]
"""Which items are behind a figure, each item's measure, and whether it met the commitment."""


class Section(Protocol):
    """A section of the figures (store/quality/repairs.py, applications.py, complaints.py,
    conversations.py: each module is one)."""

    def compute(
        self,
        session: Session,
        ctx: Context,
        names: Names,
        period: Period,
        filters: Filters,
        *,
        detail: bool = True,
    ) -> tuple[list[Figure], list[Breakdown]]:
        """Every figure of the section for `period` narrowed by `filters`, and with `detail`
        their breakdowns."""
        ...


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """How many rows meet `condition` (an aggregate's FILTER: a year's repairs have a dozen of
    these each, and skipping the rows is cheaper than adding a CASE's 0 for them)."""
    return func.count().filter(condition)


def sum_if(condition: ColumnElement[bool], value: Col) -> ColumnElement[Any]:
    return func.coalesce(func.sum(value).filter(condition), 0.0)


def grouped(
    session: Session,
    sums: Mapping[str, ColumnElement[Any]],
    groups: Sequence[Col],
    base: Select[Any],
) -> dict[Key, Sums]:
    """Run `base` with the `sums` as columns, grouped by `groups`: {group values: sums}."""
    names = list(sums)
    stmt = base.with_only_columns(*groups, *sums.values()).group_by(*groups)
    found: dict[Key, Sums] = {}
    width = len(groups)
    for row in session.connection().execute(stmt).all():
        found[tuple(row[:width])] = {
            n: float(v or 0) for n, v in zip(names, row[width:], strict=True)
        }
    return found


def add(into: Sums, more: Mapping[str, float]) -> None:
    get = into.get
    for name, value in more.items():
        into[name] = get(name, 0.0) + value


def zeros() -> Sums:
    """Sums where a name never added reads 0."""
    return defaultdict(float)


def roll_up(rows: Mapping[Key, Sums], pick: Callable[[Key], Hashable]) -> dict[Hashable, Sums]:
    """The grouped sums added up by `pick(group)`."""
    result: dict[Hashable, Sums] = defaultdict(zeros)
    for key, sums in rows.items():
        add(result[pick(key)], sums)
    return dict(result)


def total(rows: Iterable[Sums] | Mapping[Key, Sums]) -> Sums:
    """Every group's sums added up."""
    result = zeros()
    for sums in rows.values() if isinstance(rows, Mapping) else rows:
        add(result, sums)
    return result


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-quantile (0..1) by linear interpolation between the closest ranks (as
    PostgreSQL's percentile_cont); None for no values. `values` must be sorted."""
    if not values:
        return None
    rank = p * (len(values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def figure(
    ctx: Context,
    key: str,
    value: float | None,
    *,
    numerator: float | None = None,
    denominator: float | None = None,
    target: float | None = None,
) -> Figure:
    """The figure `key` with its spec's unit and target (`target`: a commitment's average)."""
    spec = ctx.conf.spec(key)
    return Figure(
        key=key,
        section=spec.section,
        value=value,
        unit=spec.unit,
        target=target if spec.commitment else spec.target,
        better=Better(spec.better),
        numerator=None if numerator is None else int(numerator),
        denominator=None if denominator is None else int(denominator),
    )


Measure = Callable[[Sums], tuple[float | None, float | None, float | None]]
"""From sums: (value, numerator, denominator) of one figure."""
Target = Callable[[Sums], float | None]
"""From sums: the average commitment of the items measured (a figure's target)."""


def measured(
    ctx: Context,
    key: str,
    sums: Sums,
    measures: Mapping[str, Measure],
    targets: Mapping[str, Target] | None = None,
) -> Figure:
    """The figure `key` from its section's sums, measures and commitment targets."""
    value, num, den = measures[key](sums)
    target = targets[key](sums) if targets and key in targets else None
    return figure(ctx, key, value, numerator=num, denominator=den, target=target)


T = TypeVar("T")


def breakdown(
    key: str,
    dimension: str,
    groups: Mapping[Hashable, T],
    measure: Callable[[T], tuple[float | None, float | None, float | None]],
    names: Callable[[Hashable], tuple[str, str]],
) -> Breakdown:
    """A figure per group, labelled by `names(group)` (zh, en); the biggest denominator first."""
    rows = []
    for group, sums in groups.items():
        value, num, den = measure(sums)
        if den is None and value:  # a count: its own denominator
            den = value
        if not den:
            continue
        zh, en = names(group)
        rows.append(
            BreakdownRow(zh, value, None if num is None else int(num), int(den), label_en=en)
        )
    rows.sort(key=lambda r: (-(r.denominator or 0), r.label))
    return Breakdown(key, dimension, tuple(rows))


def values_by(
    rows: Iterable[tuple[Hashable, float | None]],
) -> dict[Hashable, list[float]]:
    """Sorted values per group, None skipped (for percentiles)."""
    found: dict[Hashable, list[float]] = defaultdict(list)
    for group, value in rows:
        if value is not None:
            found[group].append(float(value))
    for values in found.values():
        values.sort()
    return dict(found)
