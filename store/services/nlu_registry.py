"""The NLU model registry and the background training jobs: pure data, no files, no Rasa.

Models (`nlu_models`), one row per trained model file:

    training → candidate | refused | failed          (evaluation and the regression guard)
    candidate | refused | retired → live             (deploy; from refused: an override,
                                                      from a model that was live before: rollback)
    candidate | refused | live → retired             (a newer model went live, or put aside)

At most one model is live: `set_status(..., "live")` retires the one that was. Every change
of status writes an `nlu_model_events` row (who, what, why); `record_event` adds others.

Jobs (`nlu_training_jobs`): `start_job` queues one and refuses while another is queued or
running (`JobActive`; an INSERT ... ON CONFLICT DO NOTHING on the partial unique index on
status makes the second of two concurrent starts fail the same way); the worker reports
`update_job_progress` (the first report moves it to running) and ends it with `finish_job`.
`fail_active_jobs` cleans up after a worker that died.

Every function takes the caller's session and flushes; the caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store.models import (
    NLU_JOB_ACTIVE_STATUSES,
    NLU_JOB_ACTIVE_WHERE,
    NLU_JOB_END_STATUSES,
    NLU_JOB_KINDS,
    NLU_JOB_STATUSES,
    NLU_MODEL_ACTIONS,
    NLU_MODEL_STATUSES,
    NluJobStatus,
    NluModel,
    NluModelAction,
    NluModelEvent,
    NluModelStatus,
    NluTrainingJob,
)
from store.services.upserts import insert_ignore
from store.sla import require_aware
from store.workflow import IllegalTransition

__all__ = [  # with the tables' names callers need (bot/ reaches store.models through here)
    "LOG_TAIL_CHARS",
    "MODEL_TRANSITIONS",
    "NLU_JOB_ACTIVE_STATUSES",
    "IllegalTransition",
    "JobActive",
    "NluModel",
    "NluModelEvent",
    "NluTrainingJob",
    "NotFound",
    "active_job",
    "create_model",
    "fail_active_jobs",
    "finish_job",
    "get_job",
    "get_model",
    "list_jobs",
    "list_models",
    "live_model",
    "model_events",
    "record_event",
    "set_metrics",
    "set_status",
    "start_job",
    "update_job_progress",
]

Row = TypeVar("Row", NluModel, NluTrainingJob)
LOG_TAIL_CHARS: Final = 4096
"""A job keeps the last this many characters of its output."""
MODEL_TRANSITIONS: Final[Mapping[str, tuple[str, ...]]] = {
    NluModelStatus.TRAINING: (
        NluModelStatus.CANDIDATE,
        NluModelStatus.REFUSED,
        NluModelStatus.FAILED,
    ),
    NluModelStatus.CANDIDATE: (
        NluModelStatus.LIVE,
        NluModelStatus.RETIRED,
        NluModelStatus.REFUSED,
    ),
    NluModelStatus.REFUSED: (NluModelStatus.LIVE, NluModelStatus.RETIRED),
    NluModelStatus.LIVE: (NluModelStatus.RETIRED,),
    NluModelStatus.RETIRED: (NluModelStatus.LIVE,),
    NluModelStatus.FAILED: (),
}
JOB_END_STATUSES: Final = NLU_JOB_END_STATUSES
_ACTION_OF_STATUS: Final[Mapping[str, str]] = {
    NluModelStatus.CANDIDATE: NluModelAction.CANDIDATE,
    NluModelStatus.REFUSED: NluModelAction.REFUSE,
    NluModelStatus.RETIRED: NluModelAction.RETIRE,
    NluModelStatus.FAILED: NluModelAction.FAIL,
}


class NotFound(LookupError):
    """No model (or job) with that id."""


class JobActive(RuntimeError):
    """A training job is already queued or running: one at a time."""

    def __init__(self, job_id: int | None, status: str | None) -> None:
        where = f"job {job_id} is {status}" if job_id is not None else "another job started"
        super().__init__(f"a training job is already active ({where}); wait for it to finish")
        self.job_id = job_id
        self.status = status


# --- models -------------------------------------------------------------------------------


def _get(session: Session, table: type[Row], row_id: int, what: str) -> Row:
    row = session.get(table, row_id)
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    return row


def get_model(session: Session, model_id: int) -> NluModel:
    return _get(session, NluModel, model_id, "model")


def _model(session: Session, model: NluModel | int) -> NluModel:
    return model if isinstance(model, NluModel) else get_model(session, model)


def live_model(session: Session) -> NluModel | None:
    stmt = (
        select(NluModel)
        .where(NluModel.status == NluModelStatus.LIVE)
        .order_by(NluModel.deployed_at.desc(), NluModel.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def list_models(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> list[NluModel]:
    """The registry, newest first."""
    stmt = select(NluModel).order_by(NluModel.created_at.desc(), NluModel.id.desc())
    if status is not None:
        if status not in NLU_MODEL_STATUSES:
            raise ValueError(f"unknown model status {status!r}")
        stmt = stmt.where(NluModel.status == status)
    return list(session.scalars(stmt.limit(max(0, limit)).offset(max(0, offset))))


def record_event(
    session: Session,
    model: NluModel | int,
    action: str,
    *,
    actor_name: str,
    reason: str | None = None,
    now: datetime,
) -> NluModelEvent:
    """Add one entry to the model's history (NLU_MODEL_ACTIONS)."""
    require_aware(now)
    if action not in NLU_MODEL_ACTIONS:
        raise ValueError(f"unknown model action {action!r}")
    found = _model(session, model)
    event = NluModelEvent(
        model_id=found.id, action=action, actor_name=actor_name, reason=reason, created_at=now
    )
    session.add(event)
    session.flush()
    return event


def model_events(session: Session, model: NluModel | int | None = None) -> list[NluModelEvent]:
    """The history of one model (or of the whole registry), oldest first."""
    stmt = select(NluModelEvent).order_by(NluModelEvent.created_at, NluModelEvent.id)
    if model is not None:
        model_id = model.id if isinstance(model, NluModel) else model
        stmt = stmt.where(NluModelEvent.model_id == model_id)
    return list(session.scalars(stmt))


def create_model(
    session: Session,
    *,
    file_name: str,
    data_hash: str,
    config_name: str,
    created_by_name: str,
    now: datetime,
    created_by: int | None = None,
    parent_id: int | None = None,
    sha256: str | None = None,
    notes: str | None = None,
) -> NluModel:
    """Register a model being trained (status 'training'). `parent_id` None: the live model
    now (what the new one will be compared with)."""
    require_aware(now)
    if parent_id is None:
        live = live_model(session)
        parent_id = live.id if live is not None else None
    model = NluModel(
        file_name=file_name,
        sha256=sha256,
        data_hash=data_hash,
        config_name=config_name,
        status=NluModelStatus.TRAINING,
        created_by=created_by,
        created_by_name=created_by_name,
        created_at=now,
        guard_reasons=[],
        parent_id=parent_id,
        notes=notes,
    )
    session.add(model)
    session.flush()
    record_event(session, model, NluModelAction.TRAIN, actor_name=created_by_name, now=now)
    return model


def set_metrics(
    session: Session,
    model: NluModel | int,
    *,
    metrics: Mapping[str, Any],
    comparison: Mapping[str, Any] | None = None,
    guard_passed: bool | None = None,
    guard_reasons: Sequence[str] = (),
    train_seconds: float | None = None,
    sha256: str | None = None,
) -> NluModel:
    """The evaluation: metrics ({"macro_f1", "accuracy", "per_intent": {intent: {"precision",
    "recall", "f1", "support"}}}), the comparison with the parent and the guard's verdict."""
    found = _model(session, model)
    found.metrics = dict(metrics)
    found.comparison = dict(comparison) if comparison is not None else None
    found.guard_passed = guard_passed
    found.guard_reasons = [str(r) for r in guard_reasons]
    if train_seconds is not None:
        found.train_seconds = float(train_seconds)
    if sha256 is not None:
        found.sha256 = sha256
    session.flush()
    return found


def set_status(
    session: Session,
    model: NluModel | int,
    status: str,
    *,
    actor_name: str,
    now: datetime,
    reason: str | None = None,
    override_reason: str | None = None,
) -> NluModel:
    """Move the model along MODEL_TRANSITIONS and record it (IllegalTransition otherwise).

    To 'live': the model that was live is retired; deployed_at/deployed_by_name are set;
    the event is 'rollback' for a model that was live before, else 'deploy'. A refused model
    goes live only with an `override_reason` (recorded with the operator, event 'override';
    how long it must be is the caller's rule, conf/nlu.yml guard.min_override_reason).
    """
    require_aware(now)
    if status not in NLU_MODEL_STATUSES:
        raise ValueError(f"unknown model status {status!r}")
    found = _model(session, model)
    if status not in MODEL_TRANSITIONS.get(found.status, ()):
        raise IllegalTransition(f"model {found.id}: {found.status} → {status} not allowed")
    if status != NluModelStatus.LIVE:
        found.status = status
        session.flush()
        record_event(
            session,
            found,
            _ACTION_OF_STATUS[status],
            actor_name=actor_name,
            reason=reason,
            now=now,
        )
        return found
    if found.status == NluModelStatus.REFUSED:
        if not override_reason or not override_reason.strip():
            raise IllegalTransition(f"model {found.id} was refused: deploying it needs a reason")
        found.override_reason = override_reason.strip()
        found.override_by_name = actor_name
        record_event(
            session,
            found,
            NluModelAction.OVERRIDE,
            actor_name=actor_name,
            reason=found.override_reason,
            now=now,
        )
    for previous in session.scalars(
        select(NluModel).where(NluModel.status == NluModelStatus.LIVE, NluModel.id != found.id)
    ):
        previous.status = NluModelStatus.RETIRED
        record_event(
            session,
            previous,
            NluModelAction.RETIRE,
            actor_name=actor_name,
            reason=f"replaced by model {found.id}",
            now=now,
        )
    action = NluModelAction.ROLLBACK if found.deployed_at is not None else NluModelAction.DEPLOY
    found.status = NluModelStatus.LIVE
    found.deployed_at = now
    found.deployed_by_name = actor_name
    session.flush()
    record_event(session, found, action, actor_name=actor_name, reason=reason, now=now)
    return found


# --- jobs ---------------------------------------------------------------------------------


def get_job(session: Session, job_id: int) -> NluTrainingJob:
    return _get(session, NluTrainingJob, job_id, "training job")


def active_job(session: Session) -> NluTrainingJob | None:
    """The queued or running job, if any."""
    stmt = (
        select(NluTrainingJob)
        .where(NluTrainingJob.status.in_(NLU_JOB_ACTIVE_STATUSES))
        .order_by(NluTrainingJob.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


def list_jobs(session: Session, *, limit: int = 20) -> list[NluTrainingJob]:
    """The latest jobs, newest first."""
    stmt = (
        select(NluTrainingJob)
        .order_by(NluTrainingJob.created_at.desc(), NluTrainingJob.id.desc())
        .limit(max(0, limit))
    )
    return list(session.scalars(stmt))


def start_job(
    session: Session, *, kind: str, requested_by_name: str, now: datetime
) -> NluTrainingJob:
    """Queue a job; `JobActive` while another one is queued or running."""
    require_aware(now)
    if kind not in NLU_JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    current = active_job(session)
    if current is not None:
        raise JobActive(current.id, current.status)
    # ON CONFLICT DO NOTHING on the partial unique index: of two concurrent starts one inserts
    # nothing (no error to recover from: the caller's transaction stays usable)
    inserted = insert_ignore(
        session,
        NluTrainingJob,
        {
            "kind": kind,
            "status": NluJobStatus.QUEUED,
            "stage": "queued",
            "progress": 0,
            "log_tail": "",
            "requested_by_name": requested_by_name,
            "created_at": now,
        },
        [NluTrainingJob.status],
        # literally the index's predicate, so PostgreSQL can infer the index
        index_where=text(NLU_JOB_ACTIVE_WHERE),
    )
    current = active_job(session)
    if not inserted or current is None:
        raise JobActive(current.id if current else None, current.status if current else None)
    return current


def _open_job(session: Session, job_id: int) -> NluTrainingJob:
    # FOR UPDATE (PostgreSQL): the status checked here is still the status when the change is
    # written; another process's end of the job waits for this transaction, or this one for it
    job = session.get(NluTrainingJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound(f"no training job {job_id}")
    if job.status not in NLU_JOB_ACTIVE_STATUSES:
        raise IllegalTransition(f"training job {job_id} is already {job.status}")
    return job


def update_job_progress(
    session: Session,
    job_id: int,
    *,
    now: datetime,
    stage: str | None = None,
    progress: int | None = None,
    log_tail: str | None = None,
    model_id: int | None = None,
) -> NluTrainingJob:
    """Report progress (0-100, clamped), the stage and the latest output (only its last
    LOG_TAIL_CHARS are kept). The first report moves a queued job to running."""
    require_aware(now)
    job = _open_job(session, job_id)
    if job.status == NluJobStatus.QUEUED:
        job.status = NluJobStatus.RUNNING
        job.started_at = now
    if stage is not None:
        job.stage = stage[:64]
    if progress is not None:
        job.progress = max(0, min(100, int(progress)))
    if log_tail is not None:
        job.log_tail = log_tail[-LOG_TAIL_CHARS:]
    if model_id is not None:
        job.model_id = model_id
    session.flush()
    return job


def finish_job(
    session: Session,
    job_id: int,
    *,
    status: str,
    now: datetime,
    error: str | None = None,
    model_id: int | None = None,
    log_tail: str | None = None,
) -> NluTrainingJob:
    """End the job (succeeded, failed or cancelled); a succeeded job is at 100 %."""
    require_aware(now)
    if status not in JOB_END_STATUSES:
        raise ValueError(f"a job ends as one of {JOB_END_STATUSES}, not {status!r}")
    assert status in NLU_JOB_STATUSES
    job = _open_job(session, job_id)
    job.status = status
    job.finished_at = now
    if job.started_at is None:
        job.started_at = now
    if status == NluJobStatus.SUCCEEDED:
        job.progress = 100
    if error is not None:
        job.error = error[-LOG_TAIL_CHARS:]
    if model_id is not None:
        job.model_id = model_id
    if log_tail is not None:
        job.log_tail = log_tail[-LOG_TAIL_CHARS:]
    session.flush()
    return job


def fail_active_jobs(session: Session, *, error: str, now: datetime) -> int:
    """Fail every queued or running job (their worker died: call when it starts again, so
    a new job can be started); how many."""
    require_aware(now)
    jobs = list(
        session.scalars(
            select(NluTrainingJob).where(NluTrainingJob.status.in_(NLU_JOB_ACTIVE_STATUSES))
        )
    )
    for job in jobs:
        finish_job(session, job.id, status=NluJobStatus.FAILED, error=error, now=now)

    return len(jobs)
