"""Migration 0014_outage_notices on SQLite and PostgreSQL: an existing outage's area becomes its
first outage area and its tickets keep their link (the kind constraint changes in place, no
table copy); going down turns temporary outages into planned ones and drops the new tables;
up again works."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

BEFORE = "0013_quality"
AFTER = "0014_outage_notices"


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _run(engine: Engine, sql: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), values)


def _outage(engine: Engine, number: str, kind: str) -> None:
    _run(
        engine,
        "INSERT INTO outages (outage_no, kind, area_id, cause, starts_at)"
        " VALUES (:no, :kind, 1, '检修', :at)",
        no=number,
        kind=kind,
        at=datetime.now(UTC),
    )


def test_outages_gain_their_areas_and_go_back(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        _run(
            engine,
            "INSERT INTO service_areas (code, name, name_en, kind, aliases)"
            " VALUES ('QX03', '东山村', 'Dongshan', 'rural', '[]')",
        )
        _outage(engine, "TD1", "fault")
        _run(
            engine,
            "INSERT INTO tickets (ticket_no, type, priority, status, description, outage_id,"
            " created_at, escalated)"
            " VALUES ('T1', 'fault', 'high', 'merged', '停电', 1, :at, false)",
            at=datetime.now(UTC),
        )
        with pytest.raises(IntegrityError):
            _outage(engine, "TD2", "temporary")
        migrate(url, AFTER)
        assert _rows(engine, "SELECT outage_id, area_id, group_no FROM outage_areas") == [
            (1, 1, None)
        ]
        assert _rows(engine, "SELECT ticket_no, outage_id FROM tickets") == [("T1", 1)]
        assert _rows(engine, "SELECT notice_missed FROM outages") == [(False,)]
        _outage(engine, "TD2", "temporary")
        command.downgrade(alembic_config(url), BEFORE)
        assert _rows(engine, "SELECT outage_no, kind FROM outages ORDER BY id") == [
            ("TD1", "fault"),
            ("TD2", "planned"),
        ]
        assert _rows(engine, "SELECT ticket_no, outage_id FROM tickets") == [("T1", 1)]
        with pytest.raises(IntegrityError):
            _outage(engine, "TD3", "temporary")
        migrate(url, AFTER)
        assert len(_rows(engine, "SELECT id FROM outage_areas")) == 2
    finally:
        engine.dispose()
        drop()
