"""Migration 0009_back_office_roles: dispatchers, crew members and clerks may exist after it, not
before; going down makes them agents (they keep their logins and sessions) and up again works."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, make_session_factory, migrate, unit_of_work
from store.services import staff
from tests.conftest import create_database
from tests.fakes.console import cheap_password_hashing

BEFORE = "0008_access_audit"
NEW_ROLES = ("dispatcher", "crew", "clerk")


def _roles(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, role FROM staff_users"))
        return {str(name): str(role) for name, role in rows}


def test_back_office_roles_up_down_and_up(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_password_hashing(monkeypatch)
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime.now(UTC)
    try:
        migrate(url, BEFORE)
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO staff_users (username, display_name, password_hash, role,"
                    " availability, max_chats, created_at)"
                    " VALUES ('d', 'd', 'x', 'dispatcher', 'offline', 0, :now)"
                ),
                {"now": now},
            )
        migrate(url)
        with unit_of_work(factory) as session:
            for role in NEW_ROLES:
                staff.create_user(
                    session, username=role, display_name=role, password="pw", role=role, now=now
                )
        assert _roles(engine) == {role: role for role in NEW_ROLES}

        command.downgrade(alembic_config(url), BEFORE)
        assert _roles(engine) == {role: "agent" for role in NEW_ROLES}
        migrate(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE staff_users SET role = 'crew' WHERE username = 'crew'"))
        assert _roles(engine)["crew"] == "crew"
    finally:
        engine.dispose()
        drop()
