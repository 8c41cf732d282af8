"""Training jobs: the queue (one job at a time) and the runner that takes a job from queued to
its end, writing its progress on the way. What a job does is given per kind (nlu.candidates:
train and evaluate a candidate, or cross-validate the data).

`start_training` queues a job and runs it as an asyncio task of the caller's process (the
console's), `train` runs one in the foreground (the CLI), `run_training_job` runs a queued
one. One job at a time: the registry's jobs table refuses a second, and the running worker
holds a lock file (models/.nlu-training.lock) so `recover()` at start-up can tell a job whose
process died (marked failed) from one that is running elsewhere. `cancel_job` stops it (also
from another process: the worker sees its job ended at its next progress write).

    queued ──first progress──▶ running ──▶ succeeded | failed | cancelled
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from sqlalchemy.orm import Session

from nlu import training
from nlu.fingerprint import FingerprintError
from nlu.plumbing import SYSTEM, FileLock, LoopPart, store_errors, training_lock
from nlu.rules import Conflict, Invalid, NluError
from store.db import in_thread, run_unit
from store.models import (
    NLU_JOB_ACTIVE_STATUSES,
    NluJobKind,
    NluJobStatus,
    NluModelStatus,
    NluTrainingJob,
)
from store.services import nlu_registry
from store.workflow import IllegalTransition

PROGRESS_INTERVAL: Final = 1.0
"""Seconds between progress writes to the jobs table (and checks for a cancel elsewhere)."""

ProgressCallback = Callable[[str, int], None]


@dataclass(frozen=True)
class JobResult:
    job_id: int
    status: str
    """succeeded, failed or cancelled."""
    model_id: int | None = None
    guard_passed: bool | None = None
    guard_reasons: tuple[str, ...] = ()
    macro_f1: float | None = None
    error: str | None = None


@dataclass
class JobState:
    """The running job's latest progress, written to the database every PROGRESS_INTERVAL.
    Called with (stage, percent) as the job goes on."""

    job_id: int
    log: training.LogTail
    cancel: asyncio.Event
    on_progress: ProgressCallback | None
    event_loop: asyncio.AbstractEventLoop
    stage: str = "starting"
    percent: int = 0
    model_id: int | None = None
    written: tuple[str, int, str] = ("", -1, "")
    ended_elsewhere: bool = False
    ended: bool = False
    writes: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a progress write or the job's end is in the database: the end waits for a
    write already under way (a write that committed after the end would put the finished job's
    progress and stage back to where they were), and no progress is written after the end."""

    def __call__(self, stage: str, percent: int) -> None:
        self.stage, self.percent = stage, max(self.percent, percent)
        if self.on_progress is not None:
            self.on_progress(self.stage, self.percent)


class JobWork(Protocol):
    """What a job of one kind does, reporting to `state`; raises training.Cancelled when
    `state.cancel` is set."""

    async def __call__(self, state: JobState, actor: str) -> JobResult: ...


@dataclass(kw_only=True)
class TrainingJobs(LoopPart):
    work: Mapping[str, JobWork]
    """Job kind (train, cross_validation) → what it does."""
    _jobs: dict[int, JobState] = field(default_factory=dict, repr=False)
    _tasks: set[asyncio.Task[JobResult]] = field(default_factory=set, repr=False)

    # --- the queue -------------------------------------------------------------------------

    def recover(self) -> int:
        """At start-up: jobs left queued or running by a process that died are failed (and
        their models too). A job whose worker still runs (it holds the lock) is left alone.
        How many jobs were failed."""
        lock = FileLock.try_acquire(training_lock(self.settings))
        if lock is None:
            return 0
        try:
            return run_unit(self.factory, self._fail_orphans)
        finally:
            lock.release()

    def _fail_orphans(self, session: Session) -> int:
        now = self.clock()
        failed = nlu_registry.fail_active_jobs(
            session, error="its process ended before the job finished", now=now
        )
        for model in nlu_registry.list_models(session, status=NluModelStatus.TRAINING, limit=1000):
            nlu_registry.set_status(
                session,
                model,
                NluModelStatus.FAILED,
                actor_name=SYSTEM,
                now=now,
                reason="its training process ended before it finished",
            )
        return failed

    def jobs(self, limit: int = 20) -> list[NluTrainingJob]:
        return run_unit(self.factory, lambda s: nlu_registry.list_jobs(s, limit=limit))

    def job(self, job_id: int) -> NluTrainingJob:
        with store_errors():
            return run_unit(self.factory, lambda s: nlu_registry.get_job(s, job_id))

    def _queue(self, actor: str, kind: str) -> tuple[int, FileLock]:
        """The worker lock, then the job (a job whose worker died is failed first)."""
        if kind not in self.work:
            raise Invalid(f"unknown job kind {kind!r} ({' or '.join(self.work)})")
        lock = FileLock.try_acquire(training_lock(self.settings))
        if lock is None:
            raise Conflict("a training job is already running (in another process)")
        try:

            def work(session: Session) -> int:
                self._fail_orphans(session)  # we hold the lock: nobody else is running one
                job = nlu_registry.start_job(
                    session, kind=kind, requested_by_name=actor, now=self.clock()
                )
                return job.id

            with store_errors():
                return run_unit(self.factory, work), lock
        except BaseException:
            lock.release()
            raise

    async def start_training(
        self,
        *,
        actor: str,
        kind: str = NluJobKind.TRAIN,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """Queue a job and run it in the background (an asyncio task of this process); the
        job id. Follow it with `job(id)` (stage, progress, log_tail)."""
        job_id, lock = await asyncio.to_thread(self._queue, actor, kind)
        task = asyncio.create_task(self._run_locked(job_id, lock, on_progress))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def train(
        self,
        *,
        actor: str,
        kind: str = NluJobKind.TRAIN,
        on_progress: ProgressCallback | None = None,
    ) -> JobResult:
        """Queue a job and run it to its end (the CLI's foreground training)."""
        job_id, lock = await asyncio.to_thread(self._queue, actor, kind)
        return await self._run_locked(job_id, lock, on_progress)

    async def run_training_job(
        self, job_id: int, *, on_progress: ProgressCallback | None = None
    ) -> JobResult:
        """Run a job that is queued (e.g. by another process that could not run it)."""
        lock = FileLock.try_acquire(training_lock(self.settings))
        if lock is None:
            raise Conflict("a training job is already running (in another process)")
        return await self._run_locked(job_id, lock, on_progress)

    async def wait_for_jobs(self) -> None:
        """Until this process's background jobs have ended (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel_job(self, job_id: int, *, actor: str) -> None:
        """Stop a queued or running job (here or in another process). Safe to call from any
        thread (e.g. through asyncio.to_thread)."""
        state = self._jobs.get(job_id)
        if state is not None:

            def cancel() -> None:
                state.log.add(f"cancelled by {actor}")
                state.cancel.set()

            state.event_loop.call_soon_threadsafe(cancel)
            return
        with store_errors():
            run_unit(
                self.factory,
                lambda s: nlu_registry.finish_job(
                    s,
                    job_id,
                    status=NluJobStatus.CANCELLED,
                    now=self.clock(),
                    error=f"cancelled by {actor}",
                ),
            )

    # --- the runner ------------------------------------------------------------------------

    async def _run_locked(
        self, job_id: int, lock: FileLock, on_progress: ProgressCallback | None
    ) -> JobResult:
        state = JobState(
            job_id, training.LogTail(), asyncio.Event(), on_progress, asyncio.get_running_loop()
        )
        self._jobs[job_id] = state
        writer = asyncio.create_task(self._write_progress(state))
        try:
            return await self._run(state)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._jobs.pop(job_id, None)
            lock.release()

    async def _write_progress(self, state: JobState) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            await self._flush(state)

    async def _flush(self, state: JobState) -> None:
        async with state.writes:
            current = (state.stage, state.percent, state.log.text())
            if current == state.written or state.ended_elsewhere or state.ended:
                return
            try:
                await in_thread(
                    self.factory,
                    lambda s: nlu_registry.update_job_progress(
                        s,
                        state.job_id,
                        now=self.clock(),
                        stage=current[0],
                        progress=current[1],
                        log_tail=current[2],
                        model_id=state.model_id,
                    ),
                )
                state.written = current
            except IllegalTransition:
                # the job was ended elsewhere (cancelled from another process): stop
                state.ended_elsewhere = True
                state.cancel.set()

    async def _run(self, state: JobState) -> JobResult:
        job = await in_thread(self.factory, lambda s: nlu_registry.get_job(s, state.job_id))
        actor = job.requested_by_name
        if job.status not in NLU_JOB_ACTIVE_STATUSES:
            raise Conflict(f"training job {job.id} is already {job.status}")
        state("starting", 1)
        await self._flush(state)
        try:
            result = await self.work[job.kind](state, actor)
        except training.Cancelled as exc:
            return await self._end(state, NluJobStatus.CANCELLED, str(exc))
        except asyncio.CancelledError:
            # the process is stopping (Ctrl-C, shutdown): the rasa child was stopped; record it
            # rather than leave the job running until the next start-up
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    self._end(state, NluJobStatus.CANCELLED, "the process was stopped")
                )
            raise
        except (training.RasaFailed, NluError, OSError, FingerprintError) as exc:
            return await self._end(state, NluJobStatus.FAILED, str(exc))
        except Exception as exc:
            state.log.add(f"{type(exc).__name__}: {exc}")
            return await self._end(state, NluJobStatus.FAILED, f"{type(exc).__name__}: {exc}")
        await self._end(state, NluJobStatus.SUCCEEDED, None, stage="done")
        return result

    async def _end(
        self, state: JobState, status: str, error: str | None, *, stage: str | None = None
    ) -> JobResult:
        if error:
            state.log.add(error)

        def work(session: Session) -> None:
            now = self.clock()
            if stage is not None:
                nlu_registry.update_job_progress(session, state.job_id, now=now, stage=stage)
            nlu_registry.finish_job(
                session,
                state.job_id,
                status=status,
                now=now,
                error=error,
                model_id=state.model_id,
                log_tail=state.log.text(),
            )
            if status != NluJobStatus.SUCCEEDED:
                self._fail_model(session, state.model_id, error)

        async with state.writes:
            state.ended = True
            if not state.ended_elsewhere:
                with contextlib.suppress(IllegalTransition):
                    await in_thread(self.factory, work)
        if state.ended_elsewhere and state.model_id is not None:
            await in_thread(
                self.factory, lambda s: self._fail_model(s, state.model_id, "job cancelled")
            )
        return JobResult(state.job_id, status, state.model_id, error=error)

    def _fail_model(self, session: Session, model_id: int | None, reason: str | None) -> None:
        """The job's model, if it is still training, failed."""
        if model_id is None:
            return
        model = nlu_registry.get_model(session, model_id)
        if model.status == NluModelStatus.TRAINING:
            nlu_registry.set_status(
                session,
                model,
                NluModelStatus.FAILED,
                actor_name=SYSTEM,
                now=self.clock(),
                reason=reason,
            )
