"""Making a report and keeping it: on demand (the CLI, the console's "generate now") and when a
period closes (the gateway's scheduled job calls `generate_due`).

A scheduled report is made once per kind and period: the stored reports are unique on (kind,
period) for the schedule's, so a gateway restarted, or a second gateway replica doing the same
pass, finds it made; two replicas racing on the same period both compute it, one insert wins and
the other's is rolled back (logged, not an error)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.quality import Period
from store.quality_reports import storage
from store.quality_reports.assemble import Request, Source, assemble
from store.quality_reports.config import ReportConfig
from store.quality_reports.content import ReportContent
from store.quality_reports.kinds import ReportKind, kind_of
from store.quality_reports.render import Rendered, render
from store.quality_reports.schedule import due
from store.quality_reports.source import DatabaseSource, intent_labels
from store.quality_reports.words import GENERATED_BY_SCHEDULE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    report: storage.StoredReport
    content: ReportContent
    files: Rendered


def check_period(period: Period, today: date, config: ReportConfig) -> None:
    """ValueError (its message for staff) unless a report of `period` can be made on `today`:
    it has begun, and a range of days is no longer than conf's `max_custom_days`."""
    if period.start > today:
        raise ValueError(f"报告期 {period.label} 尚未开始")
    days = (period.end - period.start).days
    if kind_of(period) is ReportKind.CUSTOM and days > config.max_custom_days:
        raise ValueError(f"自定义报告期最长 {config.max_custom_days} 天（所选 {days} 天）")


def build(
    session: Session,
    settings: Settings,
    config: ReportConfig,
    period: Period,
    *,
    generated_by: str,
    now: datetime,
    source: Source | None = None,
) -> ReportContent:
    """What the report of `period` says, from the database (or `source`)."""
    source = source or DatabaseSource(session, intent_labels(settings.conf_dir), now)
    request = Request(period, settings.station.name, now.astimezone(settings.tz), generated_by)
    return assemble(source, request, config)


def generate(
    factory: sessionmaker[Session],
    settings: Settings,
    config: ReportConfig,
    period: Period,
    *,
    generated_by: str,
    now: datetime,
) -> Generated:
    """Make the report of `period` in its four forms and store it: the figures in one
    transaction, the files outside any (laying out the PDF takes seconds, and on SQLite an open
    write would hold every other writer back meanwhile), the report stored in another.
    A scheduled one whose period another process stored meanwhile raises ReportExists or
    IntegrityError (nothing stored)."""
    with unit_of_work(factory) as session:
        content = build(session, settings, config, period, generated_by=generated_by, now=now)
    files = render(content)
    with unit_of_work(factory) as session:
        report = storage.save(session, content, files)
    return Generated(report, content, files)


def generate_due(
    factory: sessionmaker[Session], settings: Settings, config: ReportConfig, now: datetime
) -> list[str]:
    """The scheduled reports missing as of `now`, one after the other; returns the labels of
    those this call made ("monthly 2026-11")."""
    made = []
    for kind, period in due(now, settings.tz, config):
        with unit_of_work(factory) as session:
            if storage.has_scheduled(session, kind, period.label):
                continue
        try:
            generate(factory, settings, config, period, generated_by=GENERATED_BY_SCHEDULE, now=now)
        except (IntegrityError, storage.ReportExists):
            with unit_of_work(factory) as session:
                if not storage.has_scheduled(session, kind, period.label):
                    raise
            log.info("quality report %s %s: made by another process meanwhile", kind, period.label)
            continue
        log.info("quality report %s %s generated", kind, period.label)
        made.append(f"{kind_of(period)} {period.label}")
    return made
