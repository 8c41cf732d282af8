"""Migration 0019_report_jobs on SQLite and PostgreSQL: the console's report jobs come and go
leaving the stored reports be; the running rows are bound by their indexes (one per kind and
period, one per slot) while ended ones are not; deleting a report unlinks its job (ON DELETE SET
NULL) without deleting it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database
from tests.integration.raw_sql import one as _one
from tests.integration.raw_sql import run as _run

AFTER = "0019_report_jobs"
JOB = (
    "INSERT INTO quality_report_jobs (kind, period_label, state, slot, requested_by, started_at,"
    " report_id) VALUES (:kind, :period, :state, :slot, 'chief', :at, :report)"
)


def _job(engine: Engine, kind: str, period: str, state: str, slot: int, **more: object) -> None:
    values = {"report": None, **more}
    at = datetime.now(UTC)
    _run(engine, JOB, kind=kind, period=period, state=state, slot=slot, at=at, **values)


def test_report_jobs_come_and_go_keeping_the_reports(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(AFTER).down_revision
    assert before == "0018_teams_categories"
    try:
        migrate(url, before)
        _run(
            engine,
            "INSERT INTO quality_reports (kind, period_label, generated_at, generated_by, html)"
            " VALUES ('monthly', '2026-11', :at, 'chief', '<html></html>')",
            at=datetime.now(UTC),
        )
        migrate(url, AFTER)
        _job(engine, "monthly", "2026-11", "done", 1, report=1)
        _job(engine, "monthly", "2026-11", "failed", 1)
        _job(engine, "monthly", "2026-11", "running", 1)
        with pytest.raises(IntegrityError):  # the same kind and period running twice
            _job(engine, "monthly", "2026-11", "running", 2)
        with pytest.raises(IntegrityError):  # a slot held twice
            _job(engine, "quarterly", "2026-Q4", "running", 1)
        _job(engine, "quarterly", "2026-Q4", "running", 2)
        with pytest.raises(IntegrityError):
            _job(engine, "annual", "2026", "paused", 3)
        assert _one(engine, "SELECT count(*) FROM quality_report_jobs") == 4
        _run(engine, "DELETE FROM quality_reports")
        assert _one(engine, "SELECT count(*) FROM quality_report_jobs WHERE report_id IS NULL") == 4

        command.downgrade(alembic_config(url), before)
        assert "quality_report_jobs" not in inspect(engine).get_table_names()
        migrate(url, AFTER)
        assert _one(engine, "SELECT count(*) FROM quality_report_jobs") == 0
    finally:
        engine.dispose()
        drop()
