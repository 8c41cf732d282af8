"""Where an outage is: whole villages, groups (组) of a village, or every area of a feeder.

Staff write areas the way the station speaks of them ("东山村", "QX03", "东山村3组", "西河村
2组", several on one line with 、 or a comma); customers' addresses carry their group the same
way ("东山村三组12号", read by store.services.areas.group_of), so an outage of 东山村3组
reaches the subscribers of that group (and those who never said their group), not the whole
village.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.configuration.outages import Feeder, OutageConfig
from store.models import Outage, OutageArea, ServiceArea
from store.services import areas as area_service
from store.services.areas import group_of

_SEPARATORS = re.compile(r"[、，,;；]+")
"""Between areas written on one line ("东山村3组、西河村")."""


class TargetError(ValueError):
    """An area, group or feeder staff named that the station does not have."""


@dataclass(frozen=True)
class Target:
    area: ServiceArea
    group_no: int | None
    """None: the whole area."""

    def covers(self, area_id: int, group_no: int | None) -> bool:
        """Whether a customer of `area_id` (group `group_no`, None when unknown) is affected."""
        if area_id != self.area.id:
            return False
        return self.group_no is None or group_no is None or group_no == self.group_no

    def as_json(self) -> list[int | None]:
        return [self.area.id, self.group_no]


def _target(session: Session, spec: str) -> Target:
    area = area_service.get_by_code(session, spec.strip().upper())
    area = area or area_service.match_area(session, spec)
    if area is None:
        raise TargetError(f"没有这个村（社区）：{spec} (unknown area)")
    return Target(area, group_of(spec))


def resolve(
    session: Session, config: OutageConfig, specs: Iterable[str], feeder: str | None = None
) -> tuple[list[Target], Feeder | None]:
    """The targets staff named (each area once; a whole village wins over its groups), with
    every area of `feeder` added; TargetError when one is unknown or nothing is named."""
    found: list[Target] = []
    line = None
    if feeder:
        line = config.feeder(feeder)
        if line is None:
            raise TargetError(f"没有这条线路：{feeder} (unknown feeder)")
        for code in line.areas:
            found.append(_target(session, code))
    named = [part for spec in specs for part in _SEPARATORS.split(spec) if part.strip()]
    found += [_target(session, spec) for spec in named]
    if not found:
        raise TargetError("请至少填写一个停电区域 (name at least one area or a feeder)")
    return simplify(found), line


def simplify(targets: Iterable[Target]) -> list[Target]:
    """Each (area, group) once; a whole area makes its groups redundant; in area order."""
    targets = list(targets)
    whole = {t.area.id for t in targets if t.group_no is None}
    seen: dict[tuple[int, int | None], Target] = {}
    for target in targets:
        if target.group_no is not None and target.area.id in whole:
            continue
        seen.setdefault((target.area.id, target.group_no), target)
    return sorted(seen.values(), key=lambda t: (t.area.code, t.group_no or 0))


def of_outage(session: Session, outage: Outage) -> list[Target]:
    """The outage's targets: its outage_areas, or its one area (outages from before 0014 and
    the demo's)."""
    rows = session.scalars(select(OutageArea).where(OutageArea.outage_id == outage.id)).all()
    if not rows:
        return [Target(outage.area, None)]
    return simplify(Target(row.area, row.group_no) for row in rows)


def replace(session: Session, outage: Outage, targets: Sequence[Target]) -> None:
    """Make `targets` the outage's areas (its `area_id` the first of them)."""
    for row in session.scalars(select(OutageArea).where(OutageArea.outage_id == outage.id)):
        session.delete(row)
    outage.area = targets[0].area
    for target in targets:
        session.add(OutageArea(outage=outage, area=target.area, group_no=target.group_no))
    session.flush()


def from_json(session: Session, data: Iterable[Sequence[int | None]]) -> list[Target]:
    """Targets stored on a notice ([[area_id, group], ...])."""
    pairs = [(int(area_id or 0), group) for area_id, group in data]
    wanted = {area_id for area_id, _ in pairs}
    rows = session.scalars(select(ServiceArea).where(ServiceArea.id.in_(wanted)))
    areas = {a.id: a for a in rows}
    return [
        Target(areas[area_id], int(group) if group is not None else None)
        for area_id, group in pairs
        if area_id in areas
    ]


def describe(targets: Sequence[Target], language: str) -> str:
    """ "东山村3组、西河村" / "Dongshan Village group 3, Xihe Village"."""
    if language == "en":
        return ", ".join(
            t.area.name_en + (f" group {t.group_no}" if t.group_no else "") for t in targets
        )
    return "、".join(t.area.name + (f"{t.group_no}组" if t.group_no else "") for t in targets)
