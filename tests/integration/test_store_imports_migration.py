"""Migration 0012_imports (SQLite and PostgreSQL): the `import_runs` log exists after it and not
before, refuses an unknown kind, goes away going down, and comes back up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

BEFORE = "0011_cases"
AFTER = "0012_imports"
RUN = (
    "INSERT INTO import_runs (at, kind, file_name, actor, rows, created, updated, unchanged,"
    " rejected) VALUES (:at, :kind, '用户档案.xlsx', 'chief', 3, 1, 1, 1, 0)"
)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _log(engine: Engine, kind: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(RUN), {"at": datetime.now(UTC), "kind": kind})


def test_imports_migration_up_down_and_up(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        assert "import_runs" not in _tables(engine)
        migrate(url, AFTER)
        assert "import_runs" in _tables(engine)
        _log(engine, "accounts")
        with pytest.raises(IntegrityError):
            _log(engine, "customers")
        command.downgrade(alembic_config(url), BEFORE)
        assert "import_runs" not in _tables(engine)
        migrate(url, AFTER)
        _log(engine, "bills")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT kind FROM import_runs")).scalars().all() == ["bills"]
    finally:
        engine.dispose()
        drop()
