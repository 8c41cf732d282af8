"""The operators' retraining loop: what `python -m nlu` and the console's NLU page call.

    inbox item ──label / oos / new intent──▶ data/ (validated) ──train──▶ candidate
        candidate ──evaluate on the held-out set, compare with the live model──▶ guard verdict
        candidate (or refused + override) ──deploy──▶ live in Rasa, models/current.tar.gz
        any earlier model ──rollback (reason)──▶ live again

`NluLoop(settings, session_factory)` holds no state but the running jobs of its process.

Annotating (synchronous, several seconds: `rasa data validate` runs after every edit; from an
event loop call them with `asyncio.to_thread`): `label_item`, `label_items` (several items,
one intent, one validation), `relabel_item` (a correction), `mark_item`, `ignore_items`,
`create_intent`.
The example is written to data/ at once, the item's label recorded in the database in the same
step (either both or neither).

Training (asynchronous): `start_training` queues a job and runs it as an asyncio task of the
caller's process (the console's), `train` runs one in the foreground (the CLI),
`run_training_job` runs a queued one. One job at a time: the registry's jobs table refuses a
second, and the running worker holds a lock file (models/.nlu-training.lock) so `recover()` at
start-up can tell a job whose process died (marked failed) from one that is running elsewhere.
A job trains, evaluates the candidate and (the first time, or after the held-out set changed)
the live model, stores the metrics and the guard's verdict on the candidate and marks the inbox
items it was trained with. `cancel_job` stops it (also from another process: the worker sees
its job ended at its next progress write).

Deploying (asynchronous): `deploy` (a refused candidate needs `override_reason`) and
`rollback` (any earlier model, a reason required) load the model into the running Rasa, copy
it to models/current.tar.gz with its fingerprint, and update the registry, in that order:
if Rasa is unreachable or refuses the model, nothing changes.

Every failure an operator can cause or fix is a `LoopError` with a one-line message and a
`kind` (not_found, conflict, invalid, unavailable, failed) the console maps to an HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from nlu import datafile, training
from nlu.datafile import OUT_OF_SCOPE, DataEditError, EditResult, EntitySpan
from nlu.deploy import (
    DeployError,
    RasaServer,
    current_fingerprint,
    install_current,
    load_model,
    loaded_model,
)
from nlu.fingerprint import FingerprintError, file_sha256, training_fingerprint
from nlu.guard import OverrideRefused, check_override, compare
from nlu.settings import NluSettings
from nlu.validate import edit_lock, validated_edit
from store.db import unit_of_work
from store.models import NluInboxItem, NluModel, NluModelEvent, NluTrainingJob
from store.services import nlu_inbox, nlu_registry, rasa_serving
from store.workflow import IllegalTransition

T = TypeVar("T")
PROGRESS_INTERVAL = 1.0
"""Seconds between progress writes to the jobs table (and checks for a cancel elsewhere)."""
TRAINED_STATUSES = ("labelled", "new_intent", "out_of_scope")
"""Inbox items whose label is written into data/ (a model trained after it learnt them)."""
SYSTEM = "system"
MAX_BATCH_LABEL = 100
"""Inbox items one batch label (one edit, one Rasa validation) or batch ignore takes."""


class LoopError(RuntimeError):
    """Refused or failed, with a one-line reason; `kind` for the console's HTTP status."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- locks -----------------------------------------------------------------------------------


class FileLock:
    """An exclusive flock on a file of models/ (held by one open file at a time, across
    processes and within one)."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle: IO[str] | None = handle

    @classmethod
    def try_acquire(cls, path: Path) -> FileLock | None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle)

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _training_lock(settings: NluSettings) -> Path:
    return settings.models_dir / ".nlu-training.lock"


def _deploy_lock(settings: NluSettings) -> Path:
    return settings.models_dir / ".nlu-deploy.lock"


# --- results ---------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ModelDetail:
    """A registry model with its history and its files (for `python -m nlu model ID` and the
    console's model page: metrics, the comparison, the confusion matrix picture)."""

    model: NluModel
    events: list[NluModelEvent]
    file: Path
    file_exists: bool
    report: Path | None
    confusion_matrix: Path | None


ProgressCallback = Callable[[str, int], None]


@dataclass
class _JobState:
    """The running job's latest progress, written to the database every PROGRESS_INTERVAL."""

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


@dataclass
class NluLoop:
    settings: NluSettings
    session_factory: sessionmaker[Session]
    rasa: RasaServer = field(default_factory=RasaServer.from_env)
    on_switch: Callable[[str], None] | None = None
    """Told the URL of the Rasa server that answers customers after a deployment (the gateway
    of this process switches at once; other processes follow the rasa_serving row)."""
    clock: Callable[[], datetime] = utc_now
    validate: bool = True
    """Run `rasa data validate` after each edit (tests of other parts switch it off)."""
    _jobs: dict[int, _JobState] = field(default_factory=dict, repr=False)
    _tasks: set[asyncio.Task[JobResult]] = field(default_factory=set, repr=False)

    # --- plumbing ----------------------------------------------------------------------------

    def _tx(self, work: Callable[[Session], T]) -> T:
        with unit_of_work(self.session_factory) as session:
            return work(session)

    async def _atx(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self._tx, work)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The services' and edits' exceptions as LoopError."""
        try:
            yield
        except LoopError:
            raise
        except (nlu_inbox.NotFound, nlu_registry.NotFound) as exc:
            raise LoopError(str(exc).strip("'\""), "not_found") from exc
        except nlu_registry.JobActive as exc:
            raise LoopError(str(exc), "conflict") from exc
        except IllegalTransition as exc:
            raise LoopError(str(exc), "conflict") from exc
        except (DataEditError, nlu_inbox.InboxError, OverrideRefused, FingerprintError) as exc:
            raise LoopError(str(exc), "invalid") from exc
        except DeployError as exc:
            raise LoopError(str(exc), "unavailable") from exc

    # --- the inbox ---------------------------------------------------------------------------

    def inbox(
        self, *, status: str | None = "open", limit: int = 50, offset: int = 0
    ) -> nlu_inbox.InboxPage:
        with self._errors():
            return self._tx(
                lambda s: nlu_inbox.list_items(s, status=status, limit=limit, offset=offset)
            )

    def item(self, item_id: int) -> nlu_inbox.ItemDetail:
        with self._errors():
            return self._tx(lambda s: nlu_inbox.get_item(s, item_id, settings=self.settings.inbox))

    def _item(self, item_id: int) -> NluInboxItem:
        item = self._tx(lambda s: s.get(NluInboxItem, item_id))
        if item is None:
            raise LoopError(f"no inbox item {item_id}", "not_found")
        return item

    def _open_item(self, item_id: int) -> NluInboxItem:
        item = self._item(item_id)
        if item.status not in ("open", "ignored"):
            what = f" as {item.label_intent}" if item.label_intent else ""
            raise LoopError(
                f"inbox item {item_id} is already {item.status}{what}: its example is in data/"
                " (relabel corrects a label)",
                "conflict",
            )
        return item

    def _record(
        self, item_id: int, *, status: str, intent: str | None, entities: Sequence[EntitySpan],
        text: str, actor_id: int | None,
    ) -> Callable[[EditResult | None], None]:  # fmt: skip
        """The database half of an annotation (runs inside the edit, see validated_edit)."""

        def record(_result: EditResult | None) -> None:
            def work(session: Session) -> None:
                now = self.clock()
                if intent is None:
                    nlu_inbox.mark(session, item_id, status, by=actor_id, now=now)
                    return
                nlu_inbox.label(
                    session,
                    item_id,
                    intent=intent,
                    entities=[span.to_json(text) for span in entities],
                    by=actor_id,
                    now=now,
                    status=status,
                )

            self._tx(work)

        return record

    def label_item(
        self,
        item_id: int,
        intent: str,
        entities: Sequence[Mapping[str, Any]] = (),
        *,
        actor: str,
        actor_id: int | None = None,
    ) -> EditResult:
        """Assign an intent (and entities: {"entity", "start", "end", "value"?} with offsets
        into the item's text) and write the example into data/."""
        with self._errors():
            return self._annotate(
                self._open_item(item_id),
                status="labelled",
                intent=intent,
                entities=entities,
                actor_id=actor_id,
                edit=lambda text, spans: datafile.add_example(self.settings, intent, text, spans),
            )

    def relabel_item(
        self,
        item_id: int,
        intent: str,
        entities: Sequence[Mapping[str, Any]] = (),
        *,
        actor: str,
        actor_id: int | None = None,
    ) -> EditResult:
        """Correct a label: an item labelled (or marked out of scope) becomes an example of
        another existing intent; its line leaves the old intent's block in data/ and joins the
        new one's, in one validated edit. Not for an item that created its intent (that intent
        would be left with no example): change data/ by hand."""
        with self._errors():
            item = self._item(item_id)
            old = OUT_OF_SCOPE if item.status == "out_of_scope" else item.label_intent
            if item.status not in ("labelled", "out_of_scope") or old is None:
                why = (
                    f"it created the intent {item.label_intent}; change data/ by hand"
                    if item.status == "new_intent"
                    else "label it instead"
                )
                raise LoopError(
                    f"inbox item {item_id} is {item.status}, not labelled: {why}", "conflict"
                )
            if intent == OUT_OF_SCOPE:
                raise LoopError("relabel gives an item an intent; out_of_scope is not one")
            return self._annotate(
                item,
                status="labelled",
                intent=intent,
                entities=entities,
                actor_id=actor_id,
                edit=lambda text, spans: datafile.relabel_example(
                    self.settings, old, intent, text, spans
                ),
            )

    def label_items(
        self, item_ids: Sequence[int], intent: str, *, actor: str, actor_id: int | None = None
    ) -> EditResult:
        """Give several items one intent (no entities) in one edit: their examples are written
        and Rasa validates once; when any is refused (not open, a duplicate, an unknown intent)
        nothing is written or recorded and the error names the item."""
        ids = self._batch(item_ids, f"as {intent}")
        with self._errors():
            texts = {item_id: self._open_item(item_id).text for item_id in ids}

            def apply() -> EditResult:
                results = []
                for item_id, text in texts.items():
                    try:
                        results.append(datafile.add_example(self.settings, intent, text))
                    except DataEditError as exc:
                        raise DataEditError(f"inbox item {item_id}: {exc}") from exc
                files = tuple(dict.fromkeys(f for result in results for f in result.files))
                return EditResult(intent, "\n".join(r.line for r in results), files)

            def record(_result: EditResult) -> None:
                def work(session: Session) -> None:
                    now = self.clock()
                    for item_id in ids:
                        nlu_inbox.label(session, item_id, intent=intent, by=actor_id, now=now)

                self._tx(work)

            return validated_edit(self.settings, apply, validate=self.validate, then=record)

    def ignore_items(
        self, item_ids: Sequence[int], *, actor: str, actor_id: int | None = None
    ) -> list[int]:
        """Mark several open items ignored (noise: nothing is written into data/), in one
        transaction: all of them, or none when one is not open (the error names it)."""
        ids = self._batch(item_ids, "ignored")

        def work(session: Session) -> list[int]:
            now = self.clock()
            for item_id in ids:
                found = session.get(NluInboxItem, item_id)
                if found is None:
                    raise LoopError(f"no inbox item {item_id}", "not_found")
                if found.status != "open":
                    raise LoopError(f"inbox item {item_id} is {found.status}, not open", "conflict")
                nlu_inbox.mark(session, found, "ignored", by=actor_id, now=now)
            return ids

        with self._errors():
            return self._tx(work)

    @staticmethod
    def _batch(item_ids: Sequence[int], what: str) -> list[int]:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            raise LoopError(f"no inbox items to mark {what}")
        if len(ids) > MAX_BATCH_LABEL:
            raise LoopError(f"at most {MAX_BATCH_LABEL} items at once, not {len(ids)}")
        return ids

    def _annotate(
        self,
        item: NluInboxItem,
        *,
        status: str,
        intent: str | None,
        entities: Sequence[Mapping[str, Any]],
        actor_id: int | None,
        edit: Callable[[str, list[EntitySpan]], EditResult],
    ) -> EditResult:
        """Write the item's example with `edit`, validate, record the annotation."""
        spans = [EntitySpan.from_json(raw, item.text) for raw in entities]
        return validated_edit(
            self.settings,
            lambda: edit(item.text, spans),
            validate=self.validate,
            then=self._record(
                item.id,
                status=status,
                intent=intent,
                entities=spans,
                text=item.text,
                actor_id=actor_id,
            ),
        )

    def mark_item(
        self, item_id: int, status: str, *, actor: str, actor_id: int | None = None
    ) -> EditResult | None:
        """'out_of_scope' (an example of out_of_scope is written), 'ignored' or 'open' (only
        the inbox changes)."""
        with self._errors():
            if status == "out_of_scope":
                return self._annotate(
                    self._open_item(item_id),
                    status=status,
                    intent=None,
                    entities=(),
                    actor_id=actor_id,
                    edit=lambda text, _spans: datafile.add_out_of_scope(self.settings, text),
                )
            if status not in ("ignored", "open"):
                raise LoopError(f"an item is marked out_of_scope, ignored or open, not {status}")
            item = self._open_item(item_id)
            self._record(
                item_id, status=status, intent=None, entities=(), text=item.text,
                actor_id=actor_id,
            )(None)  # fmt: skip
            return None

    def create_intent(
        self,
        item_id: int,
        name: str,
        *,
        response_zh: str,
        response_en: str | None = None,
        entities: Sequence[Mapping[str, Any]] = (),
        actor: str,
        actor_id: int | None = None,
    ) -> EditResult:
        """A new intent whose first example is the item: examples in data/nlu/operator.yml,
        the intent and its response utter_<name> in domain.yml, a rule in data/rules.yml."""
        with self._errors():
            return self._annotate(
                self._open_item(item_id),
                status="new_intent",
                intent=name,
                entities=entities,
                actor_id=actor_id,
                edit=lambda text, spans: datafile.create_intent(
                    self.settings, name, text, response_zh, response_en, spans
                ),
            )

    # --- jobs --------------------------------------------------------------------------------

    def recover(self) -> int:
        """At start-up: jobs left queued or running by a process that died are failed (and
        their models too). A job whose worker still runs (it holds the lock) is left alone.
        How many jobs were failed."""
        lock = FileLock.try_acquire(_training_lock(self.settings))
        if lock is None:
            return 0
        try:
            return self._tx(self._fail_orphans)
        finally:
            lock.release()

    def _fail_orphans(self, session: Session) -> int:
        now = self.clock()
        failed = nlu_registry.fail_active_jobs(
            session, error="its process ended before the job finished", now=now
        )
        for model in nlu_registry.list_models(session, status="training", limit=1000):
            nlu_registry.set_status(
                session,
                model,
                "failed",
                actor_name=SYSTEM,
                now=now,
                reason="its training process ended before it finished",
            )
        return failed

    def jobs(self, limit: int = 20) -> list[NluTrainingJob]:
        return self._tx(lambda s: nlu_registry.list_jobs(s, limit=limit))

    def job(self, job_id: int) -> NluTrainingJob:
        with self._errors():
            return self._tx(lambda s: nlu_registry.get_job(s, job_id))

    def _queue(self, actor: str, kind: str) -> tuple[int, FileLock]:
        """The worker lock, then the job (a job whose worker died is failed first)."""
        if kind not in ("train", "cross_validation"):
            raise LoopError(f"unknown job kind {kind!r} (train or cross_validation)")
        lock = FileLock.try_acquire(_training_lock(self.settings))
        if lock is None:
            raise LoopError("a training job is already running (in another process)", "conflict")
        try:

            def work(session: Session) -> int:
                self._fail_orphans(session)  # we hold the lock: nobody else is running one
                job = nlu_registry.start_job(
                    session, kind=kind, requested_by_name=actor, now=self.clock()
                )
                return job.id

            with self._errors():
                return self._tx(work), lock
        except BaseException:
            lock.release()
            raise

    async def start_training(
        self, *, actor: str, kind: str = "train", on_progress: ProgressCallback | None = None
    ) -> int:
        """Queue a job and run it in the background (an asyncio task of this process); the
        job id. Follow it with `job(id)` (stage, progress, log_tail)."""
        job_id, lock = await asyncio.to_thread(self._queue, actor, kind)
        task = asyncio.create_task(self._run_locked(job_id, lock, on_progress))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def train(
        self, *, actor: str, kind: str = "train", on_progress: ProgressCallback | None = None
    ) -> JobResult:
        """Queue a job and run it to its end (the CLI's foreground training)."""
        job_id, lock = await asyncio.to_thread(self._queue, actor, kind)
        return await self._run_locked(job_id, lock, on_progress)

    async def run_training_job(
        self, job_id: int, *, on_progress: ProgressCallback | None = None
    ) -> JobResult:
        """Run a job that is queued (e.g. by another process that could not run it)."""
        lock = FileLock.try_acquire(_training_lock(self.settings))
        if lock is None:
            raise LoopError("a training job is already running (in another process)", "conflict")
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
        with self._errors():
            self._tx(
                lambda s: nlu_registry.finish_job(
                    s, job_id, status="cancelled", now=self.clock(), error=f"cancelled by {actor}"
                )
            )

    async def _run_locked(
        self, job_id: int, lock: FileLock, on_progress: ProgressCallback | None
    ) -> JobResult:
        state = _JobState(
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

    async def _write_progress(self, state: _JobState) -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            await self._flush(state)

    async def _flush(self, state: _JobState) -> None:
        async with state.writes:
            current = (state.stage, state.percent, state.log.text())
            if current == state.written or state.ended_elsewhere or state.ended:
                return
            try:
                await self._atx(
                    lambda s: nlu_registry.update_job_progress(
                        s,
                        state.job_id,
                        now=self.clock(),
                        stage=current[0],
                        progress=current[1],
                        log_tail=current[2],
                        model_id=state.model_id,
                    )
                )
                state.written = current
            except IllegalTransition:
                # the job was ended elsewhere (cancelled from another process): stop
                state.ended_elsewhere = True
                state.cancel.set()

    async def _run(self, state: _JobState) -> JobResult:
        job = await self._atx(lambda s: nlu_registry.get_job(s, state.job_id))
        actor = job.requested_by_name
        if job.status not in ("queued", "running"):
            raise LoopError(f"training job {job.id} is already {job.status}", "conflict")
        state("starting", 1)
        await self._flush(state)
        try:
            if job.kind == "cross_validation":
                result = await self._cross_validation(state)
            else:
                result = await self._train_and_evaluate(state, actor)
        except training.Cancelled as exc:
            return await self._end(state, "cancelled", str(exc))
        except asyncio.CancelledError:
            # the process is stopping (Ctrl-C, shutdown): the rasa child was stopped; record it
            # rather than leave the job running until the next start-up
            with contextlib.suppress(Exception):
                await asyncio.shield(self._end(state, "cancelled", "the process was stopped"))
            raise
        except (training.RasaFailed, LoopError, OSError, FingerprintError) as exc:
            return await self._end(state, "failed", str(exc))
        except Exception as exc:
            state.log.add(f"{type(exc).__name__}: {exc}")
            return await self._end(state, "failed", f"{type(exc).__name__}: {exc}")
        await self._end(state, "succeeded", None, stage="done")
        return result

    async def _end(
        self, state: _JobState, status: str, error: str | None, *, stage: str | None = None
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
            if state.model_id is not None and status != "succeeded":
                model = nlu_registry.get_model(session, state.model_id)
                if model.status == "training":
                    nlu_registry.set_status(
                        session, model, "failed", actor_name=SYSTEM, now=now, reason=error
                    )

        async with state.writes:
            state.ended = True
            if not state.ended_elsewhere:
                with contextlib.suppress(IllegalTransition):
                    await self._atx(work)
        if state.ended_elsewhere and state.model_id is not None:
            await self._atx(lambda s: self._fail_model(s, state.model_id, "job cancelled"))
        return JobResult(state.job_id, status, state.model_id, error=error)

    def _fail_model(self, session: Session, model_id: int | None, reason: str) -> None:
        if model_id is None:
            return
        model = nlu_registry.get_model(session, model_id)
        if model.status == "training":
            nlu_registry.set_status(
                session, model, "failed", actor_name=SYSTEM, now=self.clock(), reason=reason
            )

    # --- the training job --------------------------------------------------------------------

    def _snapshot_inputs(self) -> tuple[str, list[int]]:
        """The training inputs' hash and the labelled items, with no edit half-done."""
        with edit_lock(self.settings):
            data_hash = training_fingerprint(self.settings.project_dir)
            items = self._tx(
                lambda s: [i.id for i in nlu_inbox.pending_training(s, TRAINED_STATUSES)]
            )
        return data_hash, items

    async def _train_and_evaluate(self, state: _JobState, actor: str) -> JobResult:
        settings = self.settings
        state("reading the training data", 2)
        data_hash, items = await asyncio.to_thread(self._snapshot_inputs)
        live = await self._ensure_live(state)
        name = f"nlu-{self.clock():%Y%m%d-%H%M%S}-job{state.job_id}"

        def register(session: Session) -> NluModel:
            return nlu_registry.create_model(
                session,
                file_name=f"{name}.tar.gz",
                data_hash=data_hash,
                config_name=settings.train_config.name,
                created_by_name=actor,
                now=self.clock(),
                parent_id=live.id if live is not None else None,
            )

        candidate = await self._atx(register)
        state.model_id = candidate.id
        state.log.add(f"training {candidate.file_name} ({len(items)} newly labelled items)")
        trained = await training.train_model(
            settings,
            name,
            progress=training.ProgressMap(state, 3, 80),
            log=state.log,
            cancel=state.cancel,
        )
        state("evaluating the candidate on the held-out set", 81)
        metrics = await training.evaluate_model(
            settings,
            trained.path,
            training.evaluation_dir(settings, candidate.file_name),
            log=state.log,
            cancel=state.cancel,
        )
        state("evaluating the live model", 90)
        live_metrics, live_problem = await self._live_metrics(state, live, metrics)
        state("comparing with the live model", 96)
        verdict = compare(metrics, live_metrics, settings.guard)
        reasons = list(verdict.reasons) + ([live_problem] if live_problem else [])
        passed = verdict.passed and not live_problem

        def store(session: Session) -> None:
            now = self.clock()
            comparison = verdict.comparison_json()
            comparison.update(
                passed=passed, reasons=reasons, live_model_id=live.id if live else None
            )
            nlu_registry.set_metrics(
                session,
                candidate.id,
                metrics=metrics,
                comparison=comparison,
                guard_passed=passed,
                guard_reasons=reasons,
                train_seconds=trained.seconds,
                sha256=trained.sha256,
            )
            nlu_registry.set_status(
                session,
                candidate.id,
                "candidate" if passed else "refused",
                actor_name=SYSTEM,
                now=now,
                reason="; ".join(reasons) or None,
            )
            nlu_inbox.mark_trained(session, items, candidate.id)

        await self._atx(store)
        await asyncio.to_thread(self._prune)
        return JobResult(
            state.job_id,
            "succeeded",
            candidate.id,
            guard_passed=passed,
            guard_reasons=tuple(reasons),
            macro_f1=float(metrics["macro_f1"]),
        )

    async def _live_metrics(
        self, state: _JobState, live: NluModel | None, candidate: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The live model's metrics on today's held-out set (evaluated when the registry has
        none, or they are of another version of the held-out set); a problem that stops the
        comparison (the guard then refuses)."""
        if live is None:
            return None, None
        known = live.metrics or {}
        if known.get("holdout_sha256") == candidate.get("holdout_sha256"):
            return dict(known), None
        path = training.model_path(self.settings, live.file_name)
        if not path.is_file():
            return None, (
                f"the live model {live.id} ({live.file_name}) could not be evaluated: its file"
                " is missing, so the candidate was not compared"
            )
        try:
            metrics = await training.evaluate_model(
                self.settings,
                path,
                training.evaluation_dir(self.settings, live.file_name),
                log=state.log,
                cancel=state.cancel,
            )
        except training.RasaFailed as exc:
            return None, f"the live model {live.id} could not be evaluated ({exc})"
        await self._atx(
            lambda s: nlu_registry.set_metrics(
                s,
                live.id,
                metrics=metrics,
                comparison=live.comparison,
                guard_passed=live.guard_passed,
                guard_reasons=live.guard_reasons or (),
            )
        )
        return metrics, None

    async def _ensure_live(self, state: _JobState) -> NluModel | None:
        """The live model; the first time, the model `make run` started Rasa with
        (models/current.tar.gz) is registered as live, so it can be compared and rolled back
        to."""
        live = await self._atx(nlu_registry.live_model)
        current = self.settings.current_model
        if live is not None or not current.is_file():
            return live
        state("registering the running model", 2)
        sha = await asyncio.to_thread(file_sha256, current)
        file_name = f"baseline-{sha[:12]}.tar.gz"
        target = training.model_path(self.settings, file_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            await asyncio.to_thread(shutil.copy2, current, target)
        fingerprint = current_fingerprint(self.settings) or ""

        def register(session: Session) -> NluModel:
            now = self.clock()
            model = nlu_registry.create_model(
                session,
                file_name=file_name,
                data_hash=fingerprint,
                config_name="config.yml",
                created_by_name="make train",
                now=now,
                sha256=sha,
                notes="the model Rasa ran before the first retraining (models/current.tar.gz)",
            )
            nlu_registry.set_status(session, model, "candidate", actor_name=SYSTEM, now=now)
            return nlu_registry.set_status(
                session,
                model,
                "live",
                actor_name=SYSTEM,
                now=now,
                reason="registered as the running model (models/current.tar.gz)",
            )

        return await self._atx(register)

    def _prune(self) -> None:
        """Keep the newest training.keep_models model files (and the live one's); older files
        are deleted, their rows, metrics and evaluation pictures stay."""
        keep = self.settings.training.keep_models

        def work(session: Session) -> None:
            models = nlu_registry.list_models(session, limit=10_000)
            with_files = [
                m
                for m in models
                if m.status in ("candidate", "refused", "retired")
                and training.model_path(self.settings, m.file_name).exists()
            ]
            for model in with_files[max(0, keep - 1) :]:
                training.model_path(self.settings, model.file_name).unlink(missing_ok=True)
                nlu_registry.record_event(
                    session,
                    model,
                    "delete",
                    actor_name=SYSTEM,
                    reason=f"the registry keeps the newest {keep} model files",
                    now=self.clock(),
                )

        self._tx(work)

    async def _cross_validation(self, state: _JobState) -> JobResult:
        out_dir = self.cross_validation_dir(state.job_id)
        metrics = await training.cross_validate(
            self.settings,
            out_dir,
            progress=training.ProgressMap(state, 2, 98),
            log=state.log,
            cancel=state.cancel,
        )
        summary = (
            f"cross-validation ({metrics['folds']} folds) of {self.settings.train_config.name}"
            f" on data/nlu: macro-F1 {metrics['macro_f1']:.3f} (job {state.job_id})"
        )
        state.log.add(summary)
        live = await self._atx(nlu_registry.live_model)
        if live is not None:
            await self._atx(
                lambda s: nlu_registry.record_event(
                    s, live.id, "note", actor_name=SYSTEM, reason=summary, now=self.clock()
                )
            )
        return JobResult(state.job_id, "succeeded", macro_f1=float(metrics["macro_f1"]))

    def cross_validation_dir(self, job_id: int) -> Path:
        return self.settings.registry_dir / f"cross-validation-job{job_id}"

    def cross_validation_result(self, job_id: int) -> dict[str, Any] | None:
        """A cross-validation job's metrics (and its confusion matrix beside them), if done."""
        directory = self.cross_validation_dir(job_id)
        try:
            metrics: dict[str, Any] = json.loads((directory / "metrics.json").read_text())
        except (OSError, ValueError):
            return None
        matrix = directory / training.CONFUSION_MATRIX
        metrics["confusion_matrix"] = str(matrix) if matrix.is_file() else None
        return metrics

    # --- the registry ------------------------------------------------------------------------

    def models(self, *, status: str | None = None, limit: int = 50) -> list[NluModel]:
        with self._errors():
            return self._tx(lambda s: nlu_registry.list_models(s, status=status, limit=limit))

    def model(self, model_id: int) -> ModelDetail:
        with self._errors():
            model, events = self._tx(
                lambda s: (
                    nlu_registry.get_model(s, model_id),
                    nlu_registry.model_events(s, model_id),
                )
            )
        path = training.model_path(self.settings, model.file_name)
        evaluation = training.evaluation_dir(self.settings, model.file_name)
        report = evaluation / training.REPORT_FILE
        matrix = evaluation / training.CONFUSION_MATRIX
        return ModelDetail(
            model=model,
            events=events,
            file=path,
            file_exists=path.is_file(),
            report=report if report.is_file() else None,
            confusion_matrix=matrix if matrix.is_file() else None,
        )

    async def deploy(
        self, model_id: int, *, actor: str, override_reason: str | None = None
    ) -> NluModel:
        """Make a candidate live; a refused one needs `override_reason` (recorded)."""
        with self._errors():
            model = await self._atx(lambda s: nlu_registry.get_model(s, model_id))
            if model.status == "live":
                raise LoopError(f"model {model_id} is already live", "conflict")
            if model.status == "retired":
                raise LoopError(
                    f"model {model_id} was live before: roll back to it (with a reason)",
                    "conflict",
                )
            if model.status not in ("candidate", "refused"):
                raise LoopError(
                    f"model {model_id} is {model.status}: only a candidate (or a refused one,"
                    " with an override reason) can be deployed",
                    "conflict",
                )
            override = None
            if model.status == "refused":
                override = check_override(override_reason, self.settings.guard)
            return await self._go_live(model, actor=actor, reason=override, override=override)

    async def rollback(self, model_id: int, *, actor: str, reason: str) -> NluModel:
        """Make any earlier model live again (no guard); the reason is required."""
        with self._errors():
            minimum = self.settings.guard.min_override_reason
            written = (reason or "").strip()
            if len(written) < minimum:
                raise LoopError(
                    f"a rollback needs a written reason of at least {minimum} characters"
                )
            model = await self._atx(lambda s: nlu_registry.get_model(s, model_id))
            if model.status == "live":
                raise LoopError(f"model {model_id} is already live", "conflict")
            if model.status in ("training", "failed"):
                raise LoopError(
                    f"model {model_id} is {model.status}: nothing to roll back to", "conflict"
                )
            override = written if model.status == "refused" else None
            return await self._go_live(model, actor=actor, reason=written, override=override)

    async def _go_live(
        self, model: NluModel, *, actor: str, reason: str | None, override: str | None
    ) -> NluModel:
        path = training.model_path(self.settings, model.file_name)
        lock = FileLock.try_acquire(_deploy_lock(self.settings))
        if lock is None:
            raise LoopError("another deployment is in progress; try again in a minute", "conflict")
        try:
            if not path.is_file():
                raise LoopError(
                    f"model {model.id}'s file {model.file_name} is no longer in the registry",
                    "failed",
                )
            sha = await asyncio.to_thread(file_sha256, path)
            if model.sha256 and sha != model.sha256:
                raise LoopError(
                    f"model {model.id}'s file {model.file_name} changed since it was trained"
                    " (sha256 differs): not deployed",
                    "failed",
                )
            target = await self._load(path)
            await asyncio.to_thread(install_current, self.settings, path, model.data_hash)

            def go_live(session: Session) -> NluModel:
                now = self.clock()
                if self.rasa.standby_url:  # blue/green: customers move to the new server
                    rasa_serving.switch(
                        session, url=target, model_file=path.name, actor_name=actor, now=now
                    )
                return nlu_registry.set_status(
                    session,
                    model.id,
                    "live",
                    actor_name=actor,
                    now=now,
                    reason=reason,
                    override_reason=override,
                )

            live = await self._atx(go_live)
            if self.on_switch is not None:
                self.on_switch(target)  # this process's gateway moves at once (others poll)
            return live
        finally:
            lock.release()

    async def _load(self, path: Path) -> str:
        """Load the model where customers are not: the standby server of a blue/green pair
        (customers keep being answered by the serving one meanwhile; a server that already
        runs this model, e.g. the previous one on a rollback, is only switched to), or the one
        server there is (Rasa answers nothing while it loads, ~15 s). The server's URL."""
        if not self.rasa.standby_url:
            await load_model(self.rasa, path)
            return self.rasa.url
        serving = await self._atx(rasa_serving.serving_url)
        target = self.rasa.at(self.rasa.other(serving))
        if await loaded_model(target) != path.name:
            await load_model(target, path)
        return target.url
