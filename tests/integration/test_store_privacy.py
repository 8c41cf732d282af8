"""What the database layer leaves behind: no customer's values in SQL log lines or database
errors, and SQLite files that only their owner can read."""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from store.db import make_engine, migrate
from store.logmask import install_log_masking

PHONE = "13905710001"
GROUPED = "138 1234 5678"


@pytest.fixture
def sql_log() -> Iterator[io.StringIO]:
    """SQLAlchemy's statement log (what `echo` or a logging config turns on), masked as the
    processes mask it."""
    original = logging.getLogRecordFactory()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    sql_logger = logging.getLogger("sqlalchemy.engine")
    old_level = sql_logger.level
    sql_logger.addHandler(handler)
    sql_logger.setLevel(logging.INFO)
    try:
        install_log_masking()
        yield out
    finally:
        logging.setLogRecordFactory(original)
        sql_logger.removeHandler(handler)
        sql_logger.setLevel(old_level)


def _select_values(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT :phone, :grouped"), {"phone": PHONE, "grouped": GROUPED})


def test_engines_log_no_statement_parameters(db_url: str, sql_log: io.StringIO) -> None:
    engine = make_engine(db_url)
    try:
        _select_values(engine)
    finally:
        engine.dispose()
    logged = sql_log.getvalue()
    assert "SELECT" in logged  # the statement is logged, its values are not
    assert "hidden" in logged
    assert PHONE not in logged
    assert GROUPED not in logged


def test_logged_parameters_are_masked_where_an_engine_shows_them(
    db_url: str, sql_log: io.StringIO
) -> None:
    """An engine made to show parameters (debugging) still logs no whole number."""
    engine = make_engine(db_url, hide_parameters=False)
    try:
        _select_values(engine)
    finally:
        engine.dispose()
    logged = sql_log.getvalue()
    assert "139****0001" in logged
    assert "138****5678" in logged
    assert PHONE not in logged
    assert GROUPED not in logged


def test_database_errors_quote_no_values(db_url: str, engine: Engine) -> None:
    """A failed statement's exception (which ends up in tracebacks and logs) names no value."""
    with pytest.raises(DBAPIError) as failed, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"), {"phone": PHONE})
    assert PHONE not in str(failed.value)
    assert "hidden" in str(failed.value)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022: files readable by everybody), whatever the test runner's."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_database_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "assistant.db"
    migrate(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:  # WAL mode: the -wal and -shm files exist while open
            conn.execute(text("SELECT count(*) FROM accounts"))
            files = sorted(p.name for p in path.parent.iterdir())
            modes = {p.name: _mode(p) for p in path.parent.iterdir()}
    finally:
        engine.dispose()
    assert files == ["assistant.db", "assistant.db-shm", "assistant.db-wal"]
    assert modes == dict.fromkeys(files, 0o600)
    assert _mode(path.parent) == 0o700  # the directory it made too


@pytest.mark.usefixtures("open_umask")
def test_an_engine_alone_creates_the_file_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        engine.dispose()
    assert _mode(path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    """The operator's choice (a group that backs it up, say) is not undone."""
    path = tmp_path / "shared.db"
    path.touch()
    path.chmod(0o640)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        engine.dispose()
    assert _mode(path) == 0o640


def test_migrating_a_postgresql_database_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL database named "test" is not a file ./test (one appeared in the project
    folder under CI before this was fixed)."""
    from store import db

    monkeypatch.chdir(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr("alembic.command.upgrade", lambda _config, revision: calls.append(revision))
    db.migrate("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert calls == ["head"]
    assert list(tmp_path.iterdir()) == []
