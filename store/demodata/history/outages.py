"""The history's outages: a couple of fault outages a month, planned work announced a week ahead
(a few announced late, a few cancelled before they began), temporary work at a day's notice
(now and then less), and the storm's lines down across the villages for most of a day.

The notice commitment is kept on each planned or temporary outage as publishing keeps it
(store/outages/commitment.py): when customers had to be told (`notice_due_at`) and whether they
were told too late (`notice_missed`).

Each is an `outages` row as the back office keeps it; the reports customers made while one was
on are attached to it (merged) by the repairs (store/demodata/history/repairs.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Final

from store.demodata.history.context import AreaRef, Ctx
from store.demodata.history.sink import table_of
from store.models import Outage, OutageKind
from store.outages.commitment import required_notice

OUTAGES: Final = table_of(Outage)
FAULT_CAUSES: Final = (
    "10kV线路故障（树枝搭线跳闸）",
    "配电变压器低压熔丝熔断",
    "10kV线路瓷瓶击穿",
    "低压电缆接头烧毁",
    "车辆撞断电杆",
)
STORM_CAUSES: Final = (
    "雷暴大风造成10kV线路跳闸",
    "暴雨导致配电变压器进水烧毁",
    "大风刮倒电杆，10kV支线断线",
    "雷击造成配电变压器损坏",
    "树木倒伏压断低压线路",
)
PLANNED_CAUSES: Final = (
    "10kV线路检修（计划停电）",
    "配电变压器增容改造（计划停电）",
    "低压线路改造（计划停电）",
    "电杆迁移（计划停电）",
)
TEMPORARY_CAUSES: Final = (
    "配合市政道路施工迁移线路（临时停电）",
    "处理变压器渗油缺陷（临时停电）",
    "更换老化低压刀闸（临时停电）",
)
STORM_OUTAGES: Final = 5
FAULT_OUTAGES_PER_MONTH: Final = 2.0
PLANNED_PER_MONTH: Final = 1.5
TEMPORARY_PER_MONTH: Final = 0.6
PLANNED_LATE: Final = 0.12
TEMPORARY_LATE: Final = 0.25
PLANNED_CANCELLED: Final = 0.08


@dataclass(frozen=True)
class OutagePlan:
    id: int
    number: str
    kind: str
    area: AreaRef
    cause: str
    starts: datetime
    expected: datetime
    restored: datetime
    notice: datetime | None
    storm: bool
    cancelled: datetime | None = None
    """Called off before it began (planned work): no outage, no reports attached."""

    @property
    def ends(self) -> datetime:
        """When it stops mattering: restored, or cancelled."""
        return self.cancelled or self.restored

    def covers(self, area_id: int, at: datetime) -> bool:
        """Whether a report from the area at `at` is attached to this outage."""
        if self.cancelled is not None:
            return False
        return self.area.id == area_id and self.starts <= at < self.restored


def _add(
    ctx: Ctx, kind: str, area: AreaRef, cause: str, starts: datetime, hours: float,
    *, notice: datetime | None, storm: bool = False,
) -> OutagePlan:  # fmt: skip
    """One outage; a fault's restoration is often later than first expected."""
    restored = starts + timedelta(hours=hours)
    expected = restored if kind == OutageKind.PLANNED else starts + timedelta(hours=hours * 0.8)
    return OutagePlan(
        id=0, number="", kind=kind, area=area, cause=cause, starts=starts, expected=expected,
        restored=restored, notice=notice, storm=storm,
    )  # fmt: skip


def _write(ctx: Ctx, plan: OutagePlan) -> OutagePlan:
    """Number the outage and hand its row to the sink."""
    numbered = replace(
        plan,
        id=ctx.sink.new_id(OUTAGES),
        number=ctx.numbers.outage(plan.starts.astimezone(ctx.tz).date()),
    )
    required = required_notice(ctx.settings.commitments, plan.kind)
    due = plan.starts - required if required is not None else None
    ctx.sink.add(OUTAGES, {
        "id": numbered.id, "outage_no": numbered.number, "kind": plan.kind,
        "area_id": plan.area.id, "cause": plan.cause, "starts_at": plan.starts,
        "expected_restore_at": plan.expected,
        "restored_at": None if plan.cancelled else plan.restored,
        "notice_at": plan.notice, "cancelled_at": plan.cancelled, "notice_due_at": due,
        "notice_missed": due is not None and plan.notice is not None and plan.notice > due,
    })  # fmt: skip
    return numbered


def _storm(ctx: Ctx) -> list[OutagePlan]:
    areas = [a for a in ctx.station.areas if a.kind != "urban"]
    ctx.rng.shuffle(areas)
    plans = []
    for n, area in enumerate(areas[:STORM_OUTAGES]):
        day = ctx.patterns.storm[n % len(ctx.patterns.storm)]
        starts = ctx.at(day, ctx.rng.uniform(14 * 60, 21 * 60))
        hours = ctx.rng.uniform(6, 20)
        notice = starts + timedelta(minutes=ctx.rng.uniform(15, 60))
        cause = STORM_CAUSES[n % len(STORM_CAUSES)]
        plans.append(
            _add(ctx, OutageKind.FAULT, area, cause, starts, hours, notice=notice, storm=True)
        )
    return plans


def _month_days(ctx: Ctx) -> dict[tuple[int, int], list[date]]:
    months: dict[tuple[int, int], list[date]] = {}
    for day in ctx.days():
        if not ctx.patterns.storm_day(day):
            months.setdefault((day.year, day.month), []).append(day)
    return months


def _fault(ctx: Ctx, days: list[date]) -> OutagePlan:
    """A line or transformer down for a few hours, customers told within the hour."""
    starts = ctx.customer_time(ctx.pick(days))
    notice = starts + timedelta(minutes=ctx.rng.uniform(10, 40))
    area = ctx.area_of_kind("rural", "remote", "urban")
    hours = ctx.rng.uniform(1.5, 5)
    return _add(ctx, OutageKind.FAULT, area, ctx.pick(FAULT_CAUSES), starts, hours, notice=notice)


def _planned(ctx: Ctx, days: list[date]) -> OutagePlan:
    """Planned work from 08:00, announced the committed days ahead (now and then later)."""
    notice_days = ctx.settings.commitments.planned_notice_days
    starts = ctx.at(ctx.pick(days), 8 * 60)
    late = ctx.chance(PLANNED_LATE)
    ahead = ctx.rng.uniform(2, notice_days - 1) if late else notice_days + ctx.rng.uniform(0, 2)
    area = ctx.area_of_kind("rural", "remote", "urban")
    cause, hours = ctx.pick(PLANNED_CAUSES), ctx.rng.uniform(4, 9)
    notice = starts - timedelta(days=ahead)
    plan = _add(ctx, OutageKind.PLANNED, area, cause, starts, hours, notice=notice)
    if ctx.chance(PLANNED_CANCELLED):  # the work was postponed: customers told it is off
        return replace(plan, cancelled=notice + (starts - notice) * ctx.rng.uniform(0.4, 0.95))
    return plan


def _temporary(ctx: Ctx, days: list[date]) -> OutagePlan:
    """Work that cannot wait a week, announced the committed day ahead (sometimes less)."""
    notice_hours = 24 * ctx.settings.commitments.temporary_notice_days
    starts = ctx.at(ctx.pick(days), ctx.rng.uniform(9 * 60, 14 * 60))
    late = ctx.chance(TEMPORARY_LATE)
    ahead = ctx.rng.uniform(2, notice_hours - 2) if late else notice_hours + ctx.rng.uniform(1, 8)
    area = ctx.area_of_kind("rural", "remote", "urban")
    cause, hours = ctx.pick(TEMPORARY_CAUSES), ctx.rng.uniform(1.5, 4)
    notice = starts - timedelta(hours=ahead)
    return _add(ctx, OutageKind.TEMPORARY, area, cause, starts, hours, notice=notice)


def _monthly(ctx: Ctx) -> list[OutagePlan]:
    plans = []
    for days in _month_days(ctx).values():
        share = len(days) / 30
        plans += [_fault(ctx, days) for _ in range(ctx.count(FAULT_OUTAGES_PER_MONTH * share))]
        plans += [_planned(ctx, days) for _ in range(ctx.count(PLANNED_PER_MONTH * share))]
        plans += [_temporary(ctx, days) for _ in range(ctx.count(TEMPORARY_PER_MONTH * share))]
    return plans


def plan_outages(ctx: Ctx) -> list[OutagePlan]:
    """Every outage of the history (written to the sink now: tickets will name them)."""
    plans = [p for p in [*_storm(ctx), *_monthly(ctx)] if ctx.finished(p.ends)]
    written = [_write(ctx, p) for p in sorted(plans, key=lambda p: p.starts)]
    ctx.sink.flush()
    return written


class OutageIndex:
    """The outages by area: which one a report is attached to."""

    def __init__(self, plans: list[OutagePlan]) -> None:
        self.plans = plans
        self._by_area: dict[int, list[OutagePlan]] = {}
        for plan in plans:
            self._by_area.setdefault(plan.area.id, []).append(plan)

    def active(self, area_id: int, at: datetime) -> OutagePlan | None:
        """The outage a report from the area at `at` is attached to (a fault first, as the
        assistant's check does), if any."""
        found = [p for p in self._by_area.get(area_id, ()) if p.covers(area_id, at)]
        found.sort(key=lambda p: (p.kind != OutageKind.FAULT, p.starts))
        return found[0] if found else None
