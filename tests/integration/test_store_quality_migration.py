"""Migration 0013_quality (SQLite and PostgreSQL): the plan, report and fact tables exist after
it and not before, the scheduled report of a kind and period is unique (on-demand ones are
not), a measure's status is checked, and everything goes away going down and comes back up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

BEFORE = "0012_imports"
AFTER = "0013_quality"
TABLES = {
    "quality_measures",
    "quality_reports",
    "quality_ticket_facts",
    "quality_application_facts",
    "quality_stage_facts",
    "quality_handoff_facts",
    "quality_conversation_days",
    "quality_refresh_state",
}
REPORT = (
    "INSERT INTO quality_reports (kind, period_label, generated_at, generated_by, html)"
    " VALUES ('monthly', '2026-11', :at, :by, '<p>')"
)
MEASURE = (
    "INSERT INTO quality_measures (title, figure_key, owner, due_date, status, created_by,"
    " created_at, updated_at) VALUES ('缩短到达时间', 'repairs.arrival_minutes', 'chief',"
    " '2026-12-31', :status, 'chief', :at, :at)"
)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _run(engine: Engine, sql: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), {"at": datetime.now(UTC), **values})


def test_quality_migration_up_down_and_up(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        assert not TABLES & _tables(engine)
        migrate(url, AFTER)
        assert _tables(engine) >= TABLES
        _run(engine, REPORT, by="schedule")
        _run(engine, REPORT, by="chief")
        _run(engine, REPORT, by="chief")  # asked for twice: both kept
        with pytest.raises(IntegrityError):
            _run(engine, REPORT, by="schedule")
        _run(engine, MEASURE, status="in_progress")
        with pytest.raises(IntegrityError):
            _run(engine, MEASURE, status="finished")
        command.downgrade(alembic_config(url), BEFORE)
        assert not TABLES & _tables(engine)
        migrate(url, AFTER)
        assert _tables(engine) >= TABLES
    finally:
        engine.dispose()
        drop()
