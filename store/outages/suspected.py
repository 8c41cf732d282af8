"""Suspected outages: several fault reports from one area, or from areas on one feeder, within a
few minutes, while no outage is known there (conf/outages.yml suspected).

Computed when the console asks (no state of its own): the fault reports not attached to any
outage, opened in the last `lookback` minutes, are grouped by area and by feeder; a group is a
suspect when `reports` of them fall within `window` minutes of each other. A feeder's group is
shown when it spans several areas (one area alone is that area's group). Publishing a suspect
(`publish`) is one step: a fault outage over its areas, the reports attached, their reporters
told with the area's subscribers, and later reporters there attached as they report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store.configuration.outages import Feeder, OutageConfig
from store.models import ServiceArea, Ticket, TicketType
from store.outages import publishing
from store.outages.publishing import Desk, Draft, OutageError, Outcome
from store.services import outages as outage_queries
from store.sla import require_aware
from store.workflow import FAULT_ACTIVE_STATUSES

_OPEN = tuple(s for s in FAULT_ACTIVE_STATUSES if s != "merged")


@dataclass(frozen=True)
class Suspect:
    key: str
    """`area:<code>` or `feeder:<code>`: what the console sends back to publish it."""
    areas: tuple[ServiceArea, ...]
    feeder: Feeder | None
    reports: tuple[Ticket, ...]

    @property
    def first_at(self) -> datetime:
        return min(t.created_at for t in self.reports)

    @property
    def last_at(self) -> datetime:
        return max(t.created_at for t in self.reports)


def _clustered(reports: Sequence[Ticket], need: int, window: timedelta) -> bool:
    """Whether `need` of the reports lie within `window` of each other."""
    times = sorted(t.created_at for t in reports)
    return any(times[i + need - 1] - times[i] <= window for i in range(len(times) - need + 1))


def _loose_reports(session: Session, since: datetime) -> list[Ticket]:
    stmt = (
        select(Ticket)
        .where(
            Ticket.type == TicketType.FAULT,
            Ticket.outage_id.is_(None),
            Ticket.area_id.is_not(None),
            Ticket.status.in_(_OPEN),
            Ticket.created_at >= since,
        )
        .order_by(Ticket.created_at, Ticket.id)
        .options(selectinload(Ticket.area))
    )
    return list(session.scalars(stmt))


def find(session: Session, config: OutageConfig, *, now: datetime) -> list[Suspect]:
    """The suspects now, feeders first, newest report first within each kind."""
    require_aware(now)
    rule = config.suspected
    by_area: dict[str, list[Ticket]] = {}
    for ticket in _loose_reports(session, now - rule.lookback):
        if ticket.area is not None and not outage_queries.active_for_area(
            session, ticket.area.id, now
        ):
            by_area.setdefault(ticket.area.code, []).append(ticket)
    found: list[Suspect] = []
    covered: set[str] = set()
    for line in config.feeders:
        reports = [t for code in line.areas for t in by_area.get(code, [])]
        codes = {t.area.code for t in reports if t.area is not None}
        if len(codes) > 1 and _clustered(reports, rule.reports, rule.window):
            areas = tuple(r.area for r in _first_of_each_area(reports) if r.area is not None)
            found.append(Suspect(f"feeder:{line.code}", areas, line, tuple(reports)))
            covered |= codes
    for code, reports in by_area.items():
        if code not in covered and _clustered(reports, rule.reports, rule.window):
            area = reports[0].area
            if area is not None:
                found.append(Suspect(f"area:{code}", (area,), None, tuple(reports)))
    return sorted(found, key=lambda s: (s.feeder is None, -s.last_at.timestamp()))


def _first_of_each_area(reports: Sequence[Ticket]) -> list[Ticket]:
    seen: dict[str, Ticket] = {}
    for ticket in reports:
        if ticket.area is not None:
            seen.setdefault(ticket.area.code, ticket)
    return sorted(seen.values(), key=lambda t: t.area.code if t.area else "")


@dataclass(frozen=True)
class Confirmation:
    """What the dispatcher confirms: the suspect and what the customers are told."""

    key: str
    reason: str
    expected_restore_at: datetime | None
    advice: str | None = None


def publish(desk: Desk, confirmation: Confirmation) -> Outcome:
    """The suspect named by `key` as a fault outage, its reports attached (OutageError when it
    is no longer a suspect: published meanwhile, or its reports attached elsewhere)."""
    suspect = next(
        (s for s in find(desk.session, desk.config, now=desk.now) if s.key == confirmation.key),
        None,
    )
    if suspect is None:
        raise OutageError("这组报修已不再是疑似停电（可能已发布或已处理）(no such suspect now)")
    draft = Draft(
        kind="fault",
        areas=tuple(a.code for a in suspect.areas) if suspect.feeder is None else (),
        feeder=suspect.feeder.code if suspect.feeder else None,
        starts_at=suspect.first_at,
        expected_restore_at=confirmation.expected_restore_at,
        reason=confirmation.reason,
        advice=confirmation.advice,
    )
    return publishing.publish(desk, draft, attach=suspect.reports)
