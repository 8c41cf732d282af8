"""Migration 0017_notice_not_now on SQLite and PostgreSQL: the deliveries' state constraint takes
`held` and `undeliverable` (changed in place: the notices and their deliveries stay); going
down, held deliveries are queued again and undeliverable ones failed; up again works."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from store.db import alembic_config, make_engine, migrate
from tests.conftest import create_database

AFTER = "0017_notice_not_now"


def _run(engine: Engine, sql: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), values)


def _states(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [
            str(r[0]) for r in conn.execute(text("SELECT state FROM outage_deliveries ORDER BY id"))
        ]


def _delivery(engine: Engine, recipient: str, state: str) -> None:
    _run(
        engine,
        "INSERT INTO outage_deliveries (notice_id, recipient, conversation_id, channel, language,"
        " subscribed, urgent, state, not_before, attempts)"
        " VALUES (1, :r, :c, 'wechat', 'zh', true, false, :s, :at, 0)",
        r=recipient, c=f"wechat:{recipient}", s=state, at=datetime.now(UTC),
    )  # fmt: skip


def test_held_and_undeliverable_deliveries_come_and_go_back(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    engine = make_engine(url)
    before = ScriptDirectory.from_config(alembic_config(url)).get_revision(AFTER).down_revision
    assert isinstance(before, str)
    try:
        migrate(url, before)
        _run(
            engine,
            "INSERT INTO service_areas (code, name, name_en, kind, aliases)"
            " VALUES ('QX03', '东山村', 'Dongshan', 'rural', '[]')",
        )
        _run(
            engine,
            "INSERT INTO outages (outage_no, kind, area_id, cause, starts_at)"
            " VALUES ('TD1', 'planned', 1, '检修', :at)",
            at=datetime.now(UTC),
        )
        _run(
            engine,
            "INSERT INTO outage_notices (outage_id, kind, urgent, text_zh, text_en, targets,"
            " created_at, created_by, state, recipients)"
            " VALUES (1, 'published', false, '停电', 'outage', '[]', :at, 'x', 'fanned_out', 3)",
            at=datetime.now(UTC),
        )
        _delivery(engine, "a", "sent")
        with pytest.raises(IntegrityError):
            _delivery(engine, "b", "held")
        migrate(url, AFTER)
        _delivery(engine, "b", "held")
        _delivery(engine, "c", "undeliverable")
        with pytest.raises(IntegrityError):
            _delivery(engine, "d", "parked")
        assert _states(engine) == ["sent", "held", "undeliverable"]
        command.downgrade(alembic_config(url), before)
        assert _states(engine) == ["sent", "queued", "failed"]
        with pytest.raises(IntegrityError):
            _delivery(engine, "e", "held")
        migrate(url, AFTER)
        _delivery(engine, "e", "held")
        assert _states(engine) == ["sent", "queued", "failed", "held"]
    finally:
        engine.dispose()
        drop()
