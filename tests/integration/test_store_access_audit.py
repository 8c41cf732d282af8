"""Migration 0008_access_audit (the manager role, the access audit) on a database in use, and
the audit's service: nothing of the staff's sessions or handoffs is lost on SQLite (where
copying staff_users would have deleted them through ON DELETE CASCADE), down and up again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, MetaData, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.db import alembic_config, make_engine, make_session_factory, migrate, unit_of_work
from store.models import AccessAudit, Conversation, Handoff, StaffSession, StaffUser
from store.services import access_audit, staff, transcripts
from store.services.console_sessions import StaffIdentity
from tests.conftest import create_database
from tests.fakes.console import cheap_password_hashing

BEFORE = "0007_verification"


def _in_use(engine: Engine) -> tuple[int, int]:
    """An agent with a console session and an assigned handoff: (user id, handoff id). In SQL,
    as 0007 left the tables: the ORM models have columns of later migrations."""
    now = datetime.now(UTC)
    tables = MetaData()
    tables.reflect(engine, only=["staff_users", "staff_sessions", "conversations", "handoffs"])

    def add(conn: Connection, table: str, **values: object) -> int:
        inserted = conn.execute(insert(tables.tables[table]).values(**values))
        return int(inserted.inserted_primary_key[0])

    with engine.begin() as conn:
        agent = add(
            conn,
            "staff_users",
            username="agent1",
            display_name="坐席",
            password_hash="x",
            role="agent",
            availability="available",
            max_chats=3,
            created_at=now,
        )
        later = now + timedelta(hours=1)
        add(
            conn,
            "staff_sessions",
            token_hash="h",
            user_id=agent,
            csrf_token="c",
            created_at=now,
            expires_at=later,
            last_seen_at=now,
        )
        chat = add(
            conn,
            "conversations",
            conversation_id="fake:1",
            channel="fake",
            chat_id="1",
            created_at=now,
            last_activity_at=now,
        )
        handoff = add(
            conn,
            "handoffs",
            conversation_pk=chat,
            state="assigned",
            reason="x",
            priority="normal",
            queued_at=now,
            agent_id=agent,
        )
    return agent, handoff


def _manager(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        staff.create_user(
            session,
            username="chief",
            display_name="经理",
            password="pw",
            role="manager",
            now=datetime.now(UTC),
        )


def _role_of(engine: Engine, username: str) -> str:
    with engine.connect() as conn:
        query = text("SELECT role FROM staff_users WHERE username = :u")
        return str(conn.execute(query, {"u": username}).scalar_one())


def test_upgrade_keeps_sessions_and_handoffs_and_downgrade_keeps_managers(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_password_hashing(monkeypatch)
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        factory = make_session_factory(engine)
        with pytest.raises(IntegrityError), engine.begin() as conn:  # no managers before 0008
            conn.execute(  # SQL, not the ORM: the model has columns of later migrations
                text(
                    "INSERT INTO staff_users (username, display_name, password_hash, role,"
                    " availability, max_chats, created_at)"
                    " VALUES ('early', 'x', 'x', 'manager', 'offline', 0, :now)"
                ),
                {"now": datetime.now(UTC)},
            )
        agent_id, handoff_id = _in_use(engine)
        migrate(url)
        with unit_of_work(factory) as session:
            assert session.scalars(select(StaffSession.user_id)).all() == [agent_id]
            assert session.get(Handoff, handoff_id).agent_id == agent_id  # type: ignore[union-attr]
        _manager(factory)
        assert _role_of(engine, "chief") == "manager"
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("UPDATE staff_users SET role = 'boss' WHERE username = 'chief'"))

        command.downgrade(alembic_config(url), BEFORE)
        assert _role_of(engine, "chief") == "supervisor"  # nobody loses access to the console
        with engine.connect() as conn:
            assert "access_audit" not in inspect(conn).get_table_names()
            sessions = conn.execute(text("SELECT count(*) FROM staff_sessions")).scalar_one()
            assert sessions == 1
        migrate(url)
        with engine.connect() as conn:
            assert "access_audit" in inspect(conn).get_table_names()
    finally:
        engine.dispose()
        drop()


def _identity(user: StaffUser) -> StaffIdentity:
    return StaffIdentity(
        session_id=1,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        csrf_token="t",
        expires_at=datetime.now(UTC),
    )


def test_the_audit_outlives_the_staff_user_and_the_conversation(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_password_hashing(monkeypatch)
    now = datetime.now(UTC)
    with unit_of_work(session_factory) as session:
        user = staff.create_user(
            session, username="agent9", display_name="九", password="pw", now=now
        )
        conversation = transcripts.touch_conversation(
            session,
            conversation_id="web:3f2a1b2c-1111-2222-3333-444455559c1d",
            channel="web",
            chat_id="3f2a1b2c-1111-2222-3333-444455559c1d",
            now=now,
        )
        opening = access_audit.Opening(_identity(user), "customer", "203.0.113.9", now)
        access_audit.record(session, opening, conversation, allowed=True, account_no="3301000002")
        bad = access_audit.Opening(_identity(user), "bills", "203.0.113.9", now)
        with pytest.raises(ValueError, match="unknown access kind"):
            access_audit.record(session, bad, conversation, allowed=True)
    with unit_of_work(session_factory) as session:
        session.delete(session.scalars(select(StaffUser)).one())
        session.delete(session.scalars(select(Conversation)).one())
    with unit_of_work(session_factory) as session:
        (row,) = access_audit.recent(session)
        entry = access_audit.as_json(row)
    assert (entry["staff_user_id"], entry["conversation"]) == (None, None)
    assert entry["username"] == "agent9"
    assert entry["conversation_label"] == "web:3f2a…9c1d"
    assert (entry["kind"], entry["account_no"], entry["allowed"]) == (
        "customer",
        "3301000002",
        True,
    )
    assert entry["client_address"] == "203.0.113.9"
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(AccessAudit.username)).all() == ["agent9"]
