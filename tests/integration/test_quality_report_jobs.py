"""The console's report jobs in the database (store/services/quality_report_jobs.py), on both
backends: one running job per kind and period and at most MAX_RUNNING at once, also when
processes start them at the same moment; a job ends done, failed or interrupted, once its line
is cut to one; stale running jobs end interrupted and free their period and slot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.services import quality_report_jobs as jobs
from store.services.quality_report_jobs import JobRunning, JobsFull, ReportJobState


def _start(session: Session, period: str, now: datetime, kind: str = "monthly") -> int:
    job = jobs.start_job(session, kind=kind, period_label=period, requested_by="chief", now=now)
    return job.id


def test_one_job_per_period_and_a_few_at_once(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    assert jobs.MAX_RUNNING == 2
    with unit_of_work(session_factory) as session:
        first = jobs.start_job(
            session, kind="monthly", period_label="2026-11", requested_by="chief", now=now
        )
        assert (first.state, first.slot, first.requested_by) == ("running", 1, "chief")
        with pytest.raises(JobRunning) as running:
            _start(session, "2026-11", now)
        assert running.value.job is first
        second = _start(session, "2026-Q4", now, kind="quarterly")
        with pytest.raises(JobsFull) as full:
            _start(session, "2026-10", now)
        assert [j.period_label for j in full.value.jobs] == ["2026-11", "2026-Q4"]
        with pytest.raises(JobRunning):  # the same period's job is named, not the limit
            _start(session, "2026-Q4", now, kind="quarterly")
        with pytest.raises(ValueError, match="unknown report kind"):
            _start(session, "2026-09", now, kind="weekly")

        later = now + timedelta(minutes=1)
        done = jobs.finish_job(session, first.id, state=ReportJobState.DONE, now=later)
        assert done is not None
        assert (done.state, done.finished_at, done.error) == ("done", later, None)
        third = jobs.start_job(  # its slot is free again
            session, kind="monthly", period_label="2026-11", requested_by="boss", now=later
        )
        assert (third.slot, third.requested_by) == (1, "boss")
        failed = jobs.finish_job(
            session, second, state=ReportJobState.FAILED, now=later, error="坏了\n  第二行" * 50
        )
        assert failed is not None
        assert failed.error is not None
        assert "\n" not in failed.error
        assert len(failed.error) == jobs.ERROR_MAX
        with pytest.raises(ValueError, match="ends as"):
            jobs.finish_job(session, third.id, state=ReportJobState.RUNNING, now=later)
        assert jobs.finish_job(session, 999, state=ReportJobState.DONE, now=later) is None
        assert [j.id for j in jobs.running_jobs(session)] == [third.id]
        assert [j.id for j in jobs.list_jobs(session, limit=2)] == [third.id, second]


def test_stale_and_stopped_jobs_end_interrupted(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        old = _start(session, "2026-10", now - timedelta(minutes=30))
        fresh = _start(session, "2026-11", now - timedelta(minutes=1))
        with pytest.raises(JobsFull):
            _start(session, "2026-09", now)
        count = jobs.interrupt_stale(
            session, started_before=now - timedelta(minutes=22), error="中断", now=now
        )
        assert count == 1
        stale = jobs.get_job(session, old)
        assert stale is not None
        assert (stale.state, stale.error, stale.finished_at) == ("interrupted", "中断", now)
        again = _start(session, "2026-10", now)  # neither its period nor its slot is held
        assert jobs.interrupt_jobs(session, [again, fresh, old], error="网关重启", now=now) == 2
        assert jobs.running_jobs(session) == []
        assert jobs.interrupt_jobs(session, [], error="x", now=now) == 0
        stopped = jobs.get_job(session, fresh)
        assert stopped is not None
        assert (stopped.state, stopped.error) == ("interrupted", "网关重启")


def test_concurrent_starts_hold_across_processes(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    """Four managers (or gateways) at once: two for November, one each for October and Q4.
    Whoever wins, two jobs run, never two for one period, each in its own slot."""
    asked = [("monthly", "2026-11"), ("monthly", "2026-11"), ("monthly", "2026-10"),
             ("quarterly", "2026-Q4")]  # fmt: skip
    barrier = threading.Barrier(len(asked))

    def start(what: tuple[str, str]) -> str:
        kind, period = what
        with unit_of_work(session_factory) as session:
            jobs.running_jobs(session)  # everyone looks before anyone writes
            barrier.wait(timeout=10)
            try:
                _start(session, period, now, kind=kind)
            except (JobRunning, JobsFull) as exc:
                return type(exc).__name__
            return "started"

    with ThreadPoolExecutor(len(asked)) as pool:
        outcomes = list(pool.map(start, asked))
    assert outcomes.count("started") == jobs.MAX_RUNNING
    assert outcomes[:2].count("started") <= 1
    with unit_of_work(session_factory) as session:
        running = jobs.running_jobs(session)
        assert len({j.period_label for j in running}) == len(running) == 2
        assert {j.slot for j in running} == {1, 2}
