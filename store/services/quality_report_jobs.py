"""The console's report jobs ("generate now", issue 18): a report a manager asked for, made in the
background by a gateway's child process, recorded here so every gateway replica, and a gateway
started again, sees what runs, what failed and what was made.

    running → done (its report) | failed | interrupted     (each with one line why)

`start_job` claims a running job in the database, never in a process's memory: at most one
running job per kind and period (a second is refused with `JobRunning`, naming the first) and
at most MAX_RUNNING at once, whatever the period (`JobsFull`). Both hold across processes: each
running job holds a slot (1..MAX_RUNNING), and partial unique indexes over the running rows bind
the slot and the kind with the period; the INSERT ... ON CONFLICT DO NOTHING of two concurrent
starts leaves one of them without a row, and it is refused like the others.

A job whose gateway died cannot end itself: `interrupt_stale` ends the running jobs started
before a moment (the caller's time limit and a margin ago) as interrupted, so they no longer
hold their slot nor their period. Every function takes the caller's session and flushes; the
caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, select, text, update
from sqlalchemy.orm import Session

from store.models import REPORT_JOB_RUNNING_WHERE, QualityReportJob, ReportJobState, ReportKind
from store.services.upserts import insert_ignore
from store.sla import require_aware

__all__ = [
    "ERROR_MAX",
    "MAX_RUNNING",
    "JobRunning",
    "JobsFull",
    "QualityReportJob",
    "ReportJobState",
    "finish_job",
    "get_job",
    "interrupt_jobs",
    "interrupt_stale",
    "list_jobs",
    "running_jobs",
    "start_job",
]

MAX_RUNNING: Final = 2
"""Report jobs running at once across every gateway (of different periods): each is a child
process busy with one CPU core for up to a minute on a county's year, beside the gateway."""
ERROR_MAX: Final = 300
"""The longest error line kept (the column's length)."""
_ENDS: Final = (ReportJobState.DONE, ReportJobState.FAILED, ReportJobState.INTERRUPTED)


class JobRunning(Exception):
    """A job of this kind and period is running already (`job`)."""

    def __init__(self, job: QualityReportJob) -> None:
        super().__init__(f"report job {job.id} ({job.kind} {job.period_label}) is running")
        self.job = job


class JobsFull(Exception):
    """MAX_RUNNING jobs are running already (`jobs`, of other periods)."""

    def __init__(self, jobs: Sequence[QualityReportJob]) -> None:
        super().__init__(f"{len(jobs)} report jobs are running")
        self.jobs = list(jobs)


def running_jobs(session: Session) -> list[QualityReportJob]:
    """The running jobs, the oldest first."""
    stmt = select(QualityReportJob).where(QualityReportJob.state == ReportJobState.RUNNING)
    return list(session.scalars(stmt.order_by(QualityReportJob.id)))


def _refuse(running: Sequence[QualityReportJob], kind: str, period_label: str) -> None:
    for job in running:
        if (job.kind, job.period_label) == (kind, period_label):
            raise JobRunning(job)
    if len(running) >= MAX_RUNNING:
        raise JobsFull(running)


def start_job(
    session: Session, *, kind: str, period_label: str, requested_by: str, now: datetime
) -> QualityReportJob:
    """A running job of this kind and period, started now; JobRunning or JobsFull when it may
    not start (interrupt the stale ones first: `interrupt_stale`)."""
    require_aware(now)
    if kind not in tuple(ReportKind):
        raise ValueError(f"unknown report kind {kind!r}")
    running = running_jobs(session)
    _refuse(running, kind, period_label)
    taken = {job.slot for job in running}
    values = {
        "kind": kind,
        "period_label": period_label,
        "state": ReportJobState.RUNNING,
        "requested_by": requested_by,
        "started_at": now,
    }
    for slot in range(1, MAX_RUNNING + 1):
        # a conflict on either index (this slot, or this period taken meanwhile) inserts
        # nothing and raises nothing: the caller's transaction stays usable
        if slot not in taken and insert_ignore(session, QualityReportJob, {**values, "slot": slot}):
            stmt = select(QualityReportJob).where(
                QualityReportJob.kind == kind,
                QualityReportJob.period_label == period_label,
                text(REPORT_JOB_RUNNING_WHERE),
            )
            return session.scalars(stmt).one()
    running = running_jobs(session)  # other processes started some meanwhile
    _refuse(running, kind, period_label)
    raise JobsFull(running)


def get_job(session: Session, job_id: int) -> QualityReportJob | None:
    return session.get(QualityReportJob, job_id)


def finish_job(
    session: Session,
    job_id: int,
    *,
    state: ReportJobState,
    now: datetime,
    report_id: int | None = None,
    error: str | None = None,
) -> QualityReportJob | None:
    """End a job done (with its report), failed or interrupted (with `error`, one line). What
    its own gateway saw wins over an interruption another process guessed meanwhile; None
    when the job is gone."""
    require_aware(now)
    if state not in _ENDS:
        raise ValueError(f"a job ends as one of {', '.join(_ENDS)}, not {state!r}")
    job = session.get(QualityReportJob, job_id, with_for_update=True)
    if job is None:
        return None
    job.state = state
    job.finished_at = now
    job.report_id = report_id
    job.error = _one_line(error)
    session.flush()
    return job


def _one_line(error: str | None) -> str | None:
    if error is None:
        return None
    line = " ".join(error.split())
    return line if len(line) <= ERROR_MAX else line[: ERROR_MAX - 1] + "…"


def interrupt_jobs(session: Session, job_ids: Sequence[int], *, error: str, now: datetime) -> int:
    """End these jobs as interrupted, those still running (their gateway stops); how many."""
    require_aware(now)
    if not job_ids:
        return 0
    return _interrupt(session, QualityReportJob.id.in_(list(job_ids)), error, now)


def interrupt_stale(
    session: Session, *, started_before: datetime, error: str, now: datetime
) -> int:
    """End as interrupted the running jobs started before `started_before`: their gateway died
    (its child would have been stopped at the time limit, and the job ended); how many."""
    require_aware(started_before)
    require_aware(now)
    return _interrupt(session, QualityReportJob.started_at < started_before, error, now)


def _interrupt(session: Session, which: ColumnElement[bool], error: str, now: datetime) -> int:
    stmt = (
        update(QualityReportJob)
        .where(QualityReportJob.state == ReportJobState.RUNNING, which)
        .values(state=ReportJobState.INTERRUPTED, finished_at=now, error=_one_line(error))
        .execution_options(synchronize_session="fetch")
    )
    count = session.execute(stmt).rowcount  # type: ignore[attr-defined]
    session.flush()
    return int(count or 0)


def list_jobs(session: Session, *, limit: int = 10) -> list[QualityReportJob]:
    """The latest jobs, the newest first."""
    stmt = select(QualityReportJob).order_by(
        QualityReportJob.started_at.desc(), QualityReportJob.id.desc()
    )
    return list(session.scalars(stmt.limit(max(0, limit))))
