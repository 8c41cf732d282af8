"""Migration 0010_dispatch: the free-text crew names already on tickets become crews the tickets
reference; going down puts the names back; up again works (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Engine, text

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

BEFORE = "0009_back_office_roles"
AFTER = "0010_dispatch"


def _ticket(engine: Engine, number: str, crew: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (ticket_no, type, priority, status, description, crew,"
                " created_at, escalated) VALUES (:no, 'fault', 'high', 'dispatched', '停电',"
                " :crew, :at, false)"
            ),
            {"no": number, "crew": crew, "at": datetime.now(UTC)},
        )


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_crew_names_become_crews_and_come_back(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        _ticket(engine, "T1", "东片抢修组")
        _ticket(engine, "T2", " 东片抢修组 ")
        _ticket(engine, "T3", "山区抢修组")
        _ticket(engine, "T4", None)
        migrate(url, AFTER)
        assert _rows(engine, "SELECT name, active FROM crews ORDER BY name") == [
            ("东片抢修组", True),
            ("山区抢修组", True),
        ]
        assert _rows(
            engine,
            "SELECT t.ticket_no, c.name FROM tickets t LEFT JOIN crews c ON c.id = t.crew_id"
            " ORDER BY t.ticket_no",
        ) == [("T1", "东片抢修组"), ("T2", "东片抢修组"), ("T3", "山区抢修组"), ("T4", None)]
        command.downgrade(alembic_config(url), BEFORE)
        assert _rows(engine, "SELECT ticket_no, crew FROM tickets ORDER BY ticket_no") == [
            ("T1", "东片抢修组"),
            ("T2", "东片抢修组"),
            ("T3", "山区抢修组"),
            ("T4", None),
        ]
        migrate(url, AFTER)
        assert len(_rows(engine, "SELECT id FROM crews")) == 2
    finally:
        engine.dispose()
        drop()
