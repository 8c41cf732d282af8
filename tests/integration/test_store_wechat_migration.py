"""Migration 0015_wechat (SQLite and PostgreSQL): the shared access token and the followers
exist after it and not before, a follower is one row per account, both go away going down and
come back up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

BEFORE = "0014_outage_notices"
AFTER = "0015_wechat"
TABLES = {"wechat_access_tokens", "wechat_followers"}
FOLLOWER = (
    "INSERT INTO wechat_followers (app_id, openid, subscribed, changed_at)"
    " VALUES ('wx1', 'o1', :subscribed, :at)"
)


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names()) & TABLES


def _follow(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(FOLLOWER), {"subscribed": True, "at": datetime.now(UTC)})


def test_wechat_migration_up_down_and_up(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    try:
        migrate(url, BEFORE)
        assert _tables(engine) == set()
        migrate(url, AFTER)
        assert _tables(engine) == TABLES
        _follow(engine)
        with pytest.raises(IntegrityError):
            _follow(engine)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO wechat_access_tokens (app_id) VALUES ('wx1')"))
        command.downgrade(alembic_config(url), BEFORE)
        assert _tables(engine) == set()
        migrate(url, AFTER)
        _follow(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT openid FROM wechat_followers")).scalars().all() == [
                "o1"
            ]
    finally:
        engine.dispose()
        drop()
