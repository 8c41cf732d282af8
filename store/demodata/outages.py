"""Demo outages: one fault being repaired now in 西河村, one planned job in 南塘村 in three days
(announced with the committed notice), and a few finished ones for history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from store.config import Settings
from store.demodata.featured import CURRENT_OUTAGE, PLANNED_OUTAGE
from store.models import Outage, OutageKind, ServiceArea


@dataclass(frozen=True)
class PastOutage:
    """A finished outage; `restored_at` is applied later so reports made during it merge."""

    outage: Outage
    restored_at: datetime


@dataclass(frozen=True)
class DemoOutages:
    current_fault: Outage
    planned: Outage
    past: tuple[PastOutage, ...]


def _number(at: datetime, settings: Settings, n: int) -> str:
    return f"TD{at.astimezone(settings.tz):%y%m%d}{n:02d}"


def _local(settings: Settings, now: datetime, days: int, hour: int) -> datetime:
    day = now.astimezone(settings.tz).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=settings.tz)


def make_outages(settings: Settings, areas: dict[str, ServiceArea], now: datetime) -> DemoOutages:
    notice = timedelta(days=settings.commitments.planned_notice_days)
    fault_start = now - timedelta(minutes=70)
    current = Outage(
        outage_no=CURRENT_OUTAGE,  # a fixed number the docs can name (featured.py)
        kind=OutageKind.FAULT,
        area=areas["西河村"],
        cause="10kV西河线故障（树枝搭线跳闸），正在抢修",
        starts_at=fault_start,
        expected_restore_at=now + timedelta(hours=3),
        notice_at=fault_start + timedelta(minutes=10),
    )
    start = _local(settings, now, 3, 8)
    planned = Outage(
        outage_no=PLANNED_OUTAGE,
        kind=OutageKind.PLANNED,
        area=areas["南塘村"],
        cause="10kV南塘线线路检修及配变更换（计划停电）",
        starts_at=start,
        expected_restore_at=start + timedelta(hours=9),
        notice_at=start - notice,
    )
    past = []
    for days, area, cause, hours, kind in (
        (45, "石桥村", "配电变压器低压熔丝熔断", 3, OutageKind.FAULT),
        (33, "柳湾村", "配电变压器增容改造（计划停电）", 8, OutageKind.PLANNED),
        (20, "云雾村", "雷击造成10kV云雾支线跳闸", 5, OutageKind.FAULT),
        (12, "杨家村", "低压线路改造（计划停电）", 6, OutageKind.PLANNED),
    ):
        begin = _local(settings, now, -days, 9 if kind == OutageKind.PLANNED else 14)
        outage = Outage(
            outage_no=_number(begin, settings, 1),
            kind=kind,
            area=areas[area],
            cause=cause,
            starts_at=begin,
            expected_restore_at=begin + timedelta(hours=hours),
            notice_at=begin - notice
            if kind == OutageKind.PLANNED
            else begin + timedelta(minutes=15),
        )
        past.append(PastOutage(outage, begin + timedelta(hours=hours, minutes=-20)))
    return DemoOutages(current, planned, tuple(past))
