"""Migrations build exactly the models' schema; datetimes come back aware UTC; URLs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from store.config import PROJECT_ROOT
from store.db import database_url, head_revision, make_engine, migrate, normalise_url, unit_of_work
from store.models import Base, HandoffRequest


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(conn).get_table_names()) >= set(Base.metadata.tables)


def test_migrate_twice_is_harmless(db_url: str, engine: Engine) -> None:
    migrate(db_url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()


def test_cli_migrate(db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_url}
    result = subprocess.run(
        [sys.executable, "-m", "store", "migrate"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "latest revision" in result.stdout


def test_datetimes_are_stored_utc_and_returned_aware(
    session_factory: sessionmaker[Session],
) -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2026, 11, 23, 10, 0, tzinfo=beijing)
    with unit_of_work(session_factory) as session:
        session.add(_request(moment))
    with unit_of_work(session_factory) as session:
        stored = session.scalars(select(HandoffRequest.created_at)).one()
    assert stored == moment
    assert stored.tzinfo == UTC
    assert stored.hour == 2


def _request(at: datetime) -> HandoffRequest:
    return HandoffRequest(sender_id="s", reason="r", transcript=[], status="w", created_at=at)


def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    session = session_factory()
    try:
        session.add(_request(datetime(2026, 11, 23, 10)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
    finally:
        session.close()


def _fail_inside(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        session.add(_request(datetime.now(UTC)))
        session.flush()
        raise RuntimeError("boom")


def test_unit_of_work_rolls_back_on_error(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        _fail_inside(session_factory)
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(HandoffRequest)).all() == []


def test_urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert normalise_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_url("postgres://h/db") == "postgresql+psycopg://h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url() == f"sqlite:///{PROJECT_ROOT / 'var' / 'assistant.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql://h/db")
    assert database_url() == "postgresql+psycopg://h/db"
    nested = tmp_path / "a" / "b" / "x.db"
    engine = make_engine(f"sqlite:///{nested}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert nested.parent.is_dir()
    finally:
        engine.dispose()
