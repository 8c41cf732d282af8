"""The outages of the repairs section (docs/quality.md, 抢修): those that began in the period and
how long they lasted, whether the planned and temporary ones were announced the committed time
ahead, and those cancelled; overall and per area (the outage's first area, `outages.area_id`).

A period has few outages (tens a month even for a county), so they are read from the outages
themselves and judged here, one definition (`judge`) for the figures, their breakdowns, the
series and the drill-down. The notice commitment is conf/commitments.yml `outage_notice`, read
through store/outages (`required_notice`): the numbers publishing an outage warns with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from store.models import Outage
from store.outages.commitment import required_notice
from store.quality.context import Context
from store.quality.figures import Measure, Sums, breakdown, measured, ratio, zeros
from store.quality.names import Names
from store.quality.types import Breakdown, DrillRow, Figure, Filters, Period

MEASURES: Mapping[str, Measure] = {
    "repairs.outages": lambda s: (s["outages"], None, None),
    "repairs.outage_hours": lambda s: (ratio(s["hours"], s["restored"]), None, s["restored"]),
    "repairs.notice_on_time_rate": lambda s: (
        ratio(s["on_time"], s["announced"]), s["on_time"], s["announced"],
    ),
    "repairs.late_notices": lambda s: (s["announced"] - s["on_time"], None, None),
    "repairs.cancelled_outages": lambda s: (s["cancelled"], None, None),
}  # fmt: skip
KEYS = tuple(MEASURES)
BREAKDOWNS: tuple[tuple[str, str], ...] = (
    ("repairs.notice_on_time_rate", "area"),
    ("repairs.late_notices", "area"),
    ("repairs.cancelled_outages", "area"),
)


@dataclass(frozen=True)
class Judged:
    """One outage as the figures of a period count it."""

    outage_no: str
    area_id: int
    kind: str
    starts_at: datetime
    restored_at: datetime | None
    cancelled_at: datetime | None
    began: bool
    """It began in the period (before now) and was not cancelled."""
    cancelled: bool
    """It was cancelled in the period."""
    announced: bool
    """It began, and is planned or temporary work (it had a notice commitment)."""
    on_time: bool
    """Announced, and customers were told at least the committed time ahead."""
    ahead_hours: float | None
    """How long before the start customers were first told."""
    required_hours: float | None

    @property
    def at(self) -> datetime:
        """What dates it: the cancellation for a cancelled one, else the start."""
        return self.cancelled_at if self.cancelled and self.cancelled_at else self.starts_at

    @property
    def hours(self) -> float | None:
        if not self.began or self.restored_at is None:
            return None
        return (self.restored_at - self.starts_at).total_seconds() / 3600


def judge(ctx: Context, row: Any, start: datetime, upto: datetime) -> Judged:
    """`row`: an outage's columns (see `rows`); [start, upto) the period up to now."""
    cancelled = row.cancelled_at is not None
    began = not cancelled and start <= row.starts_at < upto
    required = required_notice(ctx.settings.commitments, row.kind)
    announced = began and required is not None
    ahead = None if row.notice_at is None else row.starts_at - row.notice_at
    on_time = (
        announced
        and ahead is not None
        and required is not None
        and ahead >= required
        and not row.notice_missed
    )
    return Judged(
        outage_no=row.outage_no,
        area_id=row.area_id,
        kind=row.kind,
        starts_at=row.starts_at,
        restored_at=row.restored_at,
        cancelled_at=row.cancelled_at,
        began=began,
        cancelled=cancelled and start <= row.cancelled_at < upto,
        announced=announced,
        on_time=on_time,
        ahead_hours=None if ahead is None else ahead.total_seconds() / 3600,
        required_hours=None if required is None else required.total_seconds() / 3600,
    )


def rows(
    session: Session, ctx: Context, period: Period, names: Names, filters: Filters
) -> list[Judged]:
    """The outages that began, or were cancelled, in the period by now (area filter applied)."""
    start, end = period.bounds()
    upto = min(end, ctx.now)
    stmt = select(
        Outage.outage_no, Outage.area_id, Outage.kind, Outage.starts_at, Outage.restored_at,
        Outage.cancelled_at, Outage.notice_at, Outage.notice_missed,
    ).where(or_(
        and_(Outage.starts_at >= start, Outage.starts_at < upto),
        and_(Outage.cancelled_at >= start, Outage.cancelled_at < upto),
    ))  # fmt: skip
    area_id = names.area_id(filters)
    if area_id is not None:
        stmt = stmt.where(Outage.area_id == area_id)
    judged = (judge(ctx, row, start, upto) for row in session.connection().execute(stmt))
    return [j for j in judged if j.began or j.cancelled]


def sums(found: Iterable[Judged]) -> Sums:
    """The additive sums the outage figures are made of."""
    s = zeros()
    for j in found:
        s["outages"] += j.began
        s["cancelled"] += j.cancelled
        s["announced"] += j.announced
        s["on_time"] += j.on_time
        hours = j.hours
        if hours is not None:
            s["restored"] += 1
            s["hours"] += hours
    return s


def figures(ctx: Context, found: Iterable[Judged]) -> list[Figure]:
    overall = sums(found)
    return [measured(ctx, key, overall, MEASURES) for key in KEYS]


def breakdowns(names: Names, found: Iterable[Judged]) -> list[Breakdown]:
    per_area: dict[Hashable, list[Judged]] = defaultdict(list)
    for j in found:
        per_area[j.area_id].append(j)
    groups = {area: sums(items) for area, items in per_area.items()}
    return [breakdown(key, dim, groups, MEASURES[key], names.area) for key, dim in BREAKDOWNS]


def _state(j: Judged) -> str:
    if j.cancelled:
        return "已取消"
    if j.announced:
        ahead = "未发布通知" if j.ahead_hours is None else f"提前{j.ahead_hours:.1f}小时通知"
        return f"{ahead}（承诺提前{j.required_hours:g}小时）"
    return "已恢复" if j.restored_at is not None else "停电中"


def _listed(key: str, j: Judged) -> bool:
    if key == "repairs.cancelled_outages":
        return j.cancelled
    if key == "repairs.notice_on_time_rate":
        return j.announced
    if key == "repairs.late_notices":
        return j.announced and not j.on_time
    return j.began


def drill(
    names: Names, key: str, found: Iterable[Judged], limit: int, offset: int
) -> tuple[list[DrillRow], int]:
    """The outages behind figure `key` (a page: the misses first, then the newest) and how
    many there are."""
    notices = key in ("repairs.notice_on_time_rate", "repairs.late_notices")
    chosen = [j for j in found if _listed(key, j)]
    chosen.sort(key=lambda j: j.at, reverse=True)
    if notices:
        chosen.sort(key=lambda j: j.on_time)  # stable: the misses first, each newest first
    page = chosen[offset : offset + limit]
    return [
        DrillRow(
            kind="outage",
            ref=j.outage_no,
            at=j.at,
            value=j.ahead_hours if notices else j.hours,
            meets=j.on_time if notices else None,
            detail={"area": names.area(j.area_id)[0], "type": j.kind, "state": _state(j)},
        )
        for j in page
    ], len(chosen)
