"""One import from start to end: read the file, check every row, plan the writes against the
database, and write them only when that is asked for and allowed.

The rule (docs/import.md): a dry run writes nothing; a real import with any rejected row writes
nothing either, unless the caller explicitly accepts a partial import (the CLI's
`--accept-partial`), and then the good rows go in together. Everything happens in the
caller's one transaction: a database error on any row rolls back every row (and the run's log
entry) with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from store.config import Settings
from store.importing.changes import Changes
from store.importing.errors import FileRejected
from store.importing.fields import Context
from store.importing.plan_accounts import plan_accounts, plan_meters
from store.importing.plan_areas import plan_areas
from store.importing.plan_bills import plan_bills
from store.importing.report import ImportReport, Outcome
from store.importing.rows import Row, find_header, parse_rows
from store.importing.settings import ImportLimits
from store.importing.table import read_rows
from store.models import IMPORT_KINDS, ImportKind, ImportRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportRequest:
    kind: str
    file_name: str
    data: bytes
    actor: str
    dry_run: bool = False
    accept_partial: bool = False
    """Write the good rows even when some were rejected (never the default)."""


def _plan(
    session: Session,
    request: ImportRequest,
    rows: list[Row],
    report: ImportReport,
    settings: Settings,
) -> Changes:
    if request.kind == ImportKind.AREAS:
        return plan_areas(session, rows, report)
    if request.kind == ImportKind.ACCOUNTS:
        return plan_accounts(session, rows, report)
    if request.kind == ImportKind.METERS:
        return plan_meters(session, rows, report)
    return plan_bills(session, rows, report, settings.tariffs)


def check_file(
    request: ImportRequest, settings: Settings, limits: ImportLimits, report: ImportReport
) -> list[Row]:
    """The file's good rows (parsed, cross-checked, no duplicate keys); the rest into the
    report. FileRejected when the file as a whole cannot be read."""
    raw = read_rows(request.data, limits)
    report.encoding = raw.encoding
    header = find_header(request.kind, raw.rows, limits)
    report.columns = header.titles
    report.ignored_columns = header.ignored
    data_rows = [r for r in raw.rows if r[0] > header.line]
    if len(data_rows) > limits.max_rows:
        raise FileRejected(
            "too_many_rows", f"文件超过 {limits.max_rows} 行，请拆分成几个文件分别导入"
        )
    ctx = Context(tz=settings.tz, max_cell_chars=limits.max_cell_chars)
    return parse_rows(request.kind, raw.rows, header, ctx, report)


def run_import(
    session: Session,
    request: ImportRequest,
    settings: Settings,
    limits: ImportLimits,
    *,
    now: datetime,
) -> ImportReport:
    """Check (and unless refused or a dry run, write) one file in the session's transaction."""
    if request.kind not in IMPORT_KINDS:
        raise ValueError(f"unknown import kind {request.kind!r}")
    report = ImportReport(request.kind, request.file_name, request.dry_run)
    try:
        rows = check_file(request, settings, limits, report)
    except FileRejected as exc:
        report.file_error, report.file_error_code = exc.reason, exc.code
        report.rows = 0
        log.info("import %s %s refused: %s", request.kind, request.file_name, exc.code)
        return report
    changes = _plan(session, request, rows, report, settings)
    if request.dry_run:
        report.outcome = Outcome.DRY_RUN
    elif report.rejections and not request.accept_partial:
        report.outcome = Outcome.REFUSED
    else:
        changes.apply(session)
        report.run_id = _log_run(session, request, report, now)
        report.outcome = Outcome.APPLIED
    log.info(
        "import %s %s by %s: %s, %d rows, %d created, %d updated, %d unchanged, %d rejected",
        request.kind, request.file_name, request.actor, report.outcome, report.rows,
        report.created, report.updated, report.unchanged, report.rejected,
    )  # fmt: skip
    return report


def _log_run(session: Session, request: ImportRequest, report: ImportReport, now: datetime) -> int:
    run = ImportRun(
        at=now,
        kind=request.kind,
        file_name=request.file_name[:255],
        actor=request.actor[:64],
        rows=report.rows,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
    )
    session.add(run)
    session.flush()
    return run.id
