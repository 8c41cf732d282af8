"""Migration 0011_cases (SQLite and PostgreSQL): the case columns of tickets and applications and
the access kind `customer_record` exist after it and not before; going down removes the
openings of that kind (the constraint could not hold them) and ends rejected applications as
withdrawn; up again works."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

BEFORE = "0010_dispatch"
AFTER = "0011_cases"
TICKET_COLUMNS = {"handler", "contacted_at", "replied_at", "reply", "verdict"}
APPLICATION_COLUMNS = {
    "documents_requested", "decision", "decision_reason", "decided_by", "decided_at",
}  # fmt: skip
OPENING = (
    "INSERT INTO access_audit (at, username, role, kind, conversation_label, account_no,"
    " client_address, allowed) VALUES (:at, 'zhou', 'clerk', 'customer_record', '',"
    " '3301000001', '127.0.0.1', :yes)"
)


def _columns(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def _open_a_customer(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(OPENING), {"at": datetime.now(UTC), "yes": True})


def _openings(engine: Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM access_audit WHERE kind = 'customer_record'"
        return int(conn.execute(text(query)).scalar_one())


def test_cases_migration_up_down_and_up(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        assert not TICKET_COLUMNS & _columns(engine, "tickets")
        with pytest.raises(IntegrityError):
            _open_a_customer(engine)

        migrate(url, AFTER)
        assert _columns(engine, "tickets") >= TICKET_COLUMNS
        assert _columns(engine, "applications") >= APPLICATION_COLUMNS
        _open_a_customer(engine)
        assert _openings(engine) == 1

        command.downgrade(alembic_config(url), BEFORE)
        assert not TICKET_COLUMNS & _columns(engine, "tickets")
        assert not APPLICATION_COLUMNS & _columns(engine, "applications")
        assert _openings(engine) == 0
        with pytest.raises(IntegrityError):
            _open_a_customer(engine)

        migrate(url, AFTER)
        _open_a_customer(engine)
        assert _openings(engine) == 1
    finally:
        engine.dispose()
        drop()
