"""The model registry and the training jobs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.models import NluModel
from store.services import nlu_registry as registry
from store.services.nlu_registry import IllegalTransition, JobActive

METRICS = {
    "macro_f1": 0.91,
    "accuracy": 0.93,
    "per_intent": {"query_bill": {"precision": 0.9, "recall": 0.95, "f1": 0.92, "support": 20}},
}


def _model(session: Session, now: datetime, name: str, **kw: object) -> NluModel:
    return registry.create_model(
        session, file_name=f"{name}.tar.gz", data_hash=f"hash-{name}", config_name="config.yml",
        created_by_name="operator", now=now, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _actions(session: Session, model: NluModel) -> list[str]:
    return [e.action for e in registry.model_events(session, model)]


def test_models_deploy_retire_and_roll_back(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        first = _model(session, now, "m1")
        assert (first.status, first.parent_id, first.guard_reasons) == ("training", None, [])
        registry.set_metrics(
            session, first, metrics=METRICS, guard_passed=True, train_seconds=61.5, sha256="ab"
        )
        registry.set_status(session, first, "candidate", actor_name="operator", now=now)
        registry.set_status(session, first.id, "live", actor_name="wang", now=now)
        assert registry.live_model(session) is first
        later = now + timedelta(hours=1)
        second = _model(session, later, "m2", notes="more bill examples")
        assert second.parent_id == first.id  # the live model when it was trained
        registry.set_metrics(
            session, second, metrics={**METRICS, "macro_f1": 0.95},
            comparison={"macro_f1": {"live": 0.91, "candidate": 0.95}}, guard_passed=True,
        )  # fmt: skip
        registry.set_status(session, second, "candidate", actor_name="operator", now=later)
        registry.set_status(session, second, "live", actor_name="wang", now=later)
        assert (first.status, second.status) == ("retired", "live")
        assert (second.deployed_at, second.deployed_by_name) == (later, "wang")
        back = later + timedelta(minutes=5)
        registry.set_status(
            session, first, "live", actor_name="li", reason="投诉变多", now=back
        )  # one action
        assert (first.status, second.status) == ("live", "retired")
        assert (first.deployed_at, first.deployed_by_name) == (back, "li")
        assert _actions(session, first) == ["train", "candidate", "deploy", "retire", "rollback"]
        assert _actions(session, second) == ["train", "candidate", "deploy", "retire"]
        assert registry.model_events(session, first)[-1].reason == "投诉变多"
        with pytest.raises(IllegalTransition, match="live → candidate"):
            registry.set_status(session, first, "candidate", actor_name="x", now=back)
        assert [m.file_name for m in registry.list_models(session)] == ["m2.tar.gz", "m1.tar.gz"]
        assert registry.list_models(session, status="live") == [first]
        assert registry.get_model(session, second.id).comparison == {
            "macro_f1": {"live": 0.91, "candidate": 0.95}
        }
        with pytest.raises(registry.NotFound):
            registry.get_model(session, 4242)
    with unit_of_work(session_factory) as session:
        stored = registry.get_model(session, first.id)
        assert stored.metrics == METRICS
        assert (stored.train_seconds, stored.sha256, stored.guard_passed) == (61.5, "ab", True)


def test_a_refused_model_goes_live_only_with_a_reason(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        live = _model(session, now, "live")
        registry.set_status(session, live, "candidate", actor_name="op", now=now)
        registry.set_status(session, live, "live", actor_name="op", now=now)
        bad = _model(session, now, "bad")
        registry.set_metrics(
            session, bad, metrics=METRICS, guard_passed=False,
            guard_reasons=["query_bill recall 0.95 → 0.80"],
        )  # fmt: skip
        registry.set_status(session, bad, "refused", actor_name="guard", now=now, reason="recall")
        with pytest.raises(IllegalTransition, match="needs a reason"):
            registry.set_status(session, bad, "live", actor_name="op", now=now)
        with pytest.raises(IllegalTransition, match="needs a reason"):
            registry.set_status(session, bad, "live", actor_name="op", now=now, override_reason=" ")
        assert live.status == "live"
        registry.set_status(
            session, bad, "live", actor_name="zhang", now=now, override_reason="新词必须今天上线"
        )
        assert (bad.status, bad.override_reason, bad.override_by_name) == (
            "live", "新词必须今天上线", "zhang",
        )  # fmt: skip
        assert live.status == "retired"
        assert _actions(session, bad) == ["train", "refuse", "override", "deploy"]
        failed = _model(session, now, "failed")
        registry.set_status(session, failed, "failed", actor_name="worker", now=now)
        with pytest.raises(IllegalTransition):
            registry.set_status(session, failed, "live", actor_name="op", now=now)
        event = registry.record_event(
            session, failed, "note", actor_name="op", reason="out of memory", now=now
        )
        assert event.model_id == failed.id
        with pytest.raises(ValueError, match="action"):
            registry.record_event(session, failed, "explode", actor_name="op", now=now)
        with pytest.raises(ValueError, match="status"):
            registry.set_status(session, failed, "gone", actor_name="op", now=now)


def test_one_training_job_at_a_time(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        job = registry.start_job(session, kind="train", requested_by_name="op", now=now)
        assert (job.status, job.progress, job.stage) == ("queued", 0, "queued")
        with pytest.raises(JobActive, match=f"job {job.id} is queued"):
            registry.start_job(session, kind="cross_validation", requested_by_name="b", now=now)
        assert registry.active_job(session) is job
        step = now + timedelta(seconds=5)
        registry.update_job_progress(
            session, job.id, now=step, stage="training", progress=40, log_tail="x" * 10_000
        )
        assert (job.status, job.started_at, job.progress) == ("running", step, 40)
        assert len(job.log_tail) == registry.LOG_TAIL_CHARS
        registry.update_job_progress(session, job.id, now=step, progress=250)
        assert job.progress == 100
        with pytest.raises(JobActive, match="is running"):
            registry.start_job(session, kind="train", requested_by_name="b", now=now)
        model = _model(session, now, "m")
        end = step + timedelta(minutes=3)
        registry.finish_job(session, job.id, status="succeeded", now=end, model_id=model.id)
        assert (job.status, job.finished_at, job.model_id) == ("succeeded", end, model.id)
        with pytest.raises(IllegalTransition, match="already succeeded"):
            registry.update_job_progress(session, job.id, now=end, progress=1)
        with pytest.raises(ValueError, match="ends as"):
            registry.finish_job(session, job.id, status="running", now=end)
        assert registry.active_job(session) is None
        second = registry.start_job(
            session, kind="cross_validation", requested_by_name="b", now=end
        )
        registry.finish_job(session, second.id, status="failed", now=end, error="boom")
        assert (second.status, second.error, second.started_at) == ("failed", "boom", end)
        third = registry.start_job(session, kind="train", requested_by_name="c", now=end)
        assert registry.fail_active_jobs(session, error="worker restarted", now=end) == 1
        assert (third.status, third.error) == ("failed", "worker restarted")
        assert [j.id for j in registry.list_jobs(session)] == [third.id, second.id, job.id]
        with pytest.raises(ValueError, match="kind"):
            registry.start_job(session, kind="deploy", requested_by_name="c", now=end)
        with pytest.raises(registry.NotFound):
            registry.get_job(session, 999)


def test_two_concurrent_starts_one_wins(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    """Both check 'no active job' before either inserts: the partial unique index decides."""
    barrier = threading.Barrier(2)

    def start(name: str) -> str:
        with unit_of_work(session_factory) as session:
            registry.active_job(session)
            barrier.wait(timeout=10)
            try:
                registry.start_job(session, kind="train", requested_by_name=name, now=now)
            except JobActive:
                return "refused"
            return "started"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(start, ["a", "b"]))
    with unit_of_work(session_factory) as session:
        assert len(registry.list_jobs(session)) == 1
    assert outcomes == ["refused", "started"]


def test_a_start_is_part_of_the_callers_transaction(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with pytest.raises(RuntimeError, match="changed my mind"):
        _start_then_fail(session_factory, now)
    with unit_of_work(session_factory) as session:
        assert registry.list_jobs(session) == []
        registry.start_job(session, kind="train", requested_by_name="a", now=now)
        with pytest.raises(JobActive):
            registry.start_job(session, kind="train", requested_by_name="b", now=now)
        _model(session, now, "still-usable")  # the refusal left the transaction usable
    with unit_of_work(session_factory) as session:
        assert len(registry.list_jobs(session)) == 1
        assert len(registry.list_models(session)) == 1


def _start_then_fail(factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(factory) as session:
        registry.start_job(session, kind="train", requested_by_name="a", now=now)
        raise RuntimeError("changed my mind")


def test_a_progress_write_checked_before_the_jobs_end_cannot_undo_it(
    session_factory: sessionmaker[Session], now: datetime, backend: str
) -> None:
    """One process writes progress while another ends the job: the progress write checks the
    job is still running and holds the row until it commits, so the end comes after it and
    stays (not 'succeeded' at 96 %)."""
    if backend == "sqlite":
        pytest.skip(
            "PostgreSQL row locks: SQLite has none (one process writes a job's progress and its"
            " end, in order: nlu.loop's lock, tested in test_nlu_loop)"
        )
    with unit_of_work(session_factory) as session:
        job_id = registry.start_job(session, kind="train", requested_by_name="op", now=now).id
        registry.update_job_progress(session, job_id, now=now, stage="training", progress=40)
    checked, ended = threading.Event(), threading.Event()

    def end() -> None:
        assert checked.wait(10)
        with unit_of_work(session_factory) as other:
            registry.finish_job(other, job_id, status="succeeded", now=now)
        ended.set()

    def pause_before_writing(*_: object) -> None:
        checked.set()
        assert not ended.wait(1.0)  # the end waits for this transaction's row lock

    with ThreadPoolExecutor(1) as pool:
        ending = pool.submit(end)
        with unit_of_work(session_factory) as session:
            event.listen(session, "before_flush", pause_before_writing)
            registry.update_job_progress(
                session, job_id, now=now, stage="comparing with the live model", progress=96
            )
        ending.result(timeout=10)
    with unit_of_work(session_factory) as session:
        job = registry.get_job(session, job_id)
        assert (job.status, job.progress) == ("succeeded", 100)
