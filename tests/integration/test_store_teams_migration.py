"""Migration 0018_teams_categories on SQLite and PostgreSQL: teams, the team of a staff user and
of a crew, a ticket's staff-chosen category. Columns are added in place: a staff user's sessions
and a ticket's events stay through up, down and up again; deleting a team unlinks its people
and crews (ON DELETE SET NULL) without deleting them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database
from tests.integration.raw_sql import one as _one
from tests.integration.raw_sql import run as _run

AFTER = "0018_teams_categories"


def test_teams_and_categories_come_and_go_keeping_the_rows(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(AFTER).down_revision
    assert isinstance(before, str)
    now = datetime.now(UTC)
    try:
        migrate(url, before)
        _run(
            engine,
            "INSERT INTO staff_users (username, display_name, password_hash, role, availability,"
            " max_chats, created_at) VALUES ('lead', '班长', 'x', 'supervisor', 'offline', 3, :at)",
            at=now,
        )
        _run(
            engine,
            "INSERT INTO staff_sessions (token_hash, user_id, csrf_token, created_at, expires_at,"
            " last_seen_at) VALUES ('h', 1, 'c', :at, :at, :at)",
            at=now,
        )
        _run(
            engine,
            "INSERT INTO crews (name, active, created_at) VALUES ('一班', true, :at)",
            at=now,
        )
        _run(
            engine,
            "INSERT INTO tickets (ticket_no, type, priority, status, description, created_at,"
            " escalated) VALUES ('T1', 'complaint', 'normal', 'open', '抄表员态度差', :at, false)",
            at=now,
        )
        _run(
            engine,
            "INSERT INTO ticket_events (ticket_id, status, note, actor, at)"
            " VALUES (1, 'open', NULL, 'bot', :at)",
            at=now,
        )
        migrate(url, AFTER)
        _run(engine, "INSERT INTO teams (name, created_at) VALUES ('抢修班', :at)", at=now)
        _run(engine, "UPDATE staff_users SET team_id = 1")
        _run(engine, "UPDATE crews SET team_id = 1")
        _run(engine, "UPDATE tickets SET category = 'attitude'")
        assert _one(engine, "SELECT count(*) FROM staff_sessions") == 1
        assert _one(engine, "SELECT count(*) FROM ticket_events") == 1
        assert _one(engine, "SELECT category FROM tickets") == "attitude"
        _run(engine, "DELETE FROM teams")
        assert _one(engine, "SELECT count(*) FROM staff_users WHERE team_id IS NULL") == 1
        assert _one(engine, "SELECT count(*) FROM crews WHERE team_id IS NULL") == 1

        command.downgrade(alembic_config(url), before)
        assert _one(engine, "SELECT count(*) FROM staff_sessions") == 1
        assert _one(engine, "SELECT count(*) FROM ticket_events") == 1
        assert _one(engine, "SELECT count(*) FROM tickets") == 1
        migrate(url, AFTER)
        assert _one(engine, "SELECT category FROM tickets") is None
        assert _one(engine, "SELECT count(*) FROM staff_sessions") == 1
    finally:
        engine.dispose()
        drop()
