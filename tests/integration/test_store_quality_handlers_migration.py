"""Migration 0020_quality_handlers on SQLite and PostgreSQL: the facts of complaints, applications
and their stages get a `handler_id`, in place (the facts and the cases stay), and the refresh
forgets how far it read, so facts measured before the migration are measured again with their
handler. Here a complaint handled by the clerk k1 was measured before it, with the refresh
state saying everything had been read under today's configuration: without the migration
emptying that state the next refresh would have nothing to do and the handler stay unknown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select

from store import quality
from store.db import alembic_config, make_engine, make_session_factory, migrate, unit_of_work
from store.models import QualityTicketFacts
from store.quality.context import current
from tests.conftest import create_database
from tests.integration.raw_sql import one as _one
from tests.integration.raw_sql import run as _run

AFTER = "0020_quality_handlers"
SOURCES = {
    "tickets": 1, "ticket_events": 1, "applications": 0, "application_events": 0, "handoffs": 0,
    "handoff_events": 0, "ratings": 0, "messages": 0,
}  # fmt: skip
"""What store/quality/facts/refresh.py reads, and the last id of each in this database."""
FACTS = (
    "INSERT INTO quality_ticket_facts (ticket_id, kind, created_at, day, hour, area_kind,"
    " category, merged, excluded, callback_done, repeat, escalated) VALUES (1, 'complaint',"
    " :at, :day, 9, 'urban', 'other', false, false, false, false, false)"
)


def _before_it(url: str, now: datetime) -> None:
    """A clerk, a complaint given to them, and its facts as the refresh measured them."""
    engine = make_engine(url)
    try:
        _run(
            engine,
            "INSERT INTO staff_users (username, display_name, password_hash, role, availability,"
            " max_chats, created_at) VALUES ('k1', '营业员', 'x', 'clerk', 'offline', 0, :at)",
            at=now,
        )
        _run(
            engine,
            "INSERT INTO tickets (ticket_no, type, priority, status, description, created_at,"
            " escalated, handler) VALUES ('T1', 'complaint', 'normal', 'assigned', '电费算错了',"
            " :at, false, 'k1')",
            at=now,
        )
        _run(
            engine,
            "INSERT INTO ticket_events (ticket_id, status, note, actor, at)"
            " VALUES (1, 'assigned', NULL, 'k1', :at)",
            at=now,
        )
        _run(engine, FACTS, at=now, day=now.date())
        for source, last in SOURCES.items():
            _run(
                engine,
                "INSERT INTO quality_refresh_state (source, last_id, fingerprint, refreshed_at)"
                " VALUES (:source, :last, :fingerprint, :at)",
                source=source, last=last, fingerprint=current().fingerprint(), at=now,
            )  # fmt: skip
    finally:
        engine.dispose()


def test_the_facts_learn_their_handlers_measured_again(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(AFTER).down_revision
    assert isinstance(before, str)
    now = datetime.now(UTC)
    try:
        migrate(url, before)
        _before_it(url, now)
        migrate(url, AFTER)
        assert _one(engine, "SELECT count(*) FROM quality_ticket_facts") == 1  # kept, in place
        assert _one(engine, "SELECT handler_id FROM quality_ticket_facts") is None
        assert _one(engine, "SELECT count(*) FROM quality_refresh_state") == 0
        for table in ("quality_application_facts", "quality_stage_facts"):
            assert _one(engine, f"SELECT count(handler_id) FROM {table}") == 0
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            result = quality.refresh(session, now=now)
            handler = session.scalar(select(QualityTicketFacts.handler_id))
        assert result.rebuilt
        assert handler == _one(engine, "SELECT id FROM staff_users WHERE username = 'k1'")

        command.downgrade(alembic_config(url), before)
        assert _one(engine, "SELECT count(*) FROM quality_ticket_facts") == 1
        assert _one(engine, "SELECT count(*) FROM tickets") == 1
        migrate(url, AFTER)
        assert _one(engine, "SELECT handler_id FROM quality_ticket_facts") is None
    finally:
        engine.dispose()
        drop()
