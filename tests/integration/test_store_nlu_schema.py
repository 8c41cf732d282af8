"""Migrations 0004_nlu and 0005: down and up again; the constraints the NLU services rely on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.db import alembic_config, head_revision, make_engine, migrate, unit_of_work
from store.models import NluInboxHit, NluInboxItem, NluTrainingJob
from tests.conftest import create_database

NLU_TABLES = {
    "nlu_inbox_items",
    "nlu_inbox_hits",
    "nlu_models",
    "nlu_model_events",
    "nlu_training_jobs",
}


def test_downgrade_and_upgrade_again(backend: str, tmp_path: Path) -> None:
    url, drop = create_database(backend, tmp_path)
    try:
        migrate(url)
        command.downgrade(alembic_config(url), "0003")
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == "0003"
                assert not NLU_TABLES & set(inspect(conn).get_table_names())
            migrate(url)
            with engine.connect() as conn:
                revision = MigrationContext.configure(conn).get_current_revision()
                assert revision == head_revision()
                assert set(inspect(conn).get_table_names()) >= NLU_TABLES
        finally:
            engine.dispose()
    finally:
        drop()


def _job(status: str, now: datetime) -> NluTrainingJob:
    return NluTrainingJob(
        kind="train", status=status, stage="", progress=0, log_tail="",
        requested_by_name="op", created_at=now,
    )  # fmt: skip


def test_one_active_training_job_at_most(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        session.add_all([_job("succeeded", now), _job("failed", now), _job("succeeded", now)])
        session.add(_job("queued", now))
    with pytest.raises(IntegrityError):
        _add_job(session_factory, _job("queued", now))
    _add_job(session_factory, _job("succeeded", now))
    with unit_of_work(session_factory) as session:
        assert session.query(NluTrainingJob).count() == 5


def _add_job(factory: sessionmaker[Session], job: NluTrainingJob) -> None:
    with unit_of_work(factory) as session:
        session.add(job)


def test_a_message_counts_once_per_item(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        item = NluInboxItem(
            group_key="k", text="k", count=1, reasons_text="", first_seen_at=now, last_seen_at=now
        )
        item.reasons = ["low_confidence", "fallback", "low_confidence"]
        session.add(item)
        session.flush()
        item_id = item.id
        assert item.reasons == ("fallback", "low_confidence")
        # hits without a message (deleted transcript) never collide
        for _ in range(2):
            session.add(NluInboxHit(item_id=item_id, reason="fallback", created_at=now))
    with unit_of_work(session_factory) as session:
        assert session.get(NluInboxItem, item_id).reasons_text == "fallback,low_confidence"  # type: ignore[union-attr]
        assert session.query(NluInboxHit).count() == 2


def _item(status: str, now: datetime) -> NluInboxItem:
    return NluInboxItem(
        group_key="电费#", text="电费1", count=1, reasons_text="", status=status,
        first_seen_at=now, last_seen_at=now,
    )  # fmt: skip


def _add_item(factory: sessionmaker[Session], item: NluInboxItem) -> None:
    with unit_of_work(factory) as session:
        session.add(item)


def test_one_open_item_per_text(session_factory: sessionmaker[Session], now: datetime) -> None:
    for status in ("labelled", "ignored", "labelled", "open"):
        _add_item(session_factory, _item(status, now))
    with pytest.raises(IntegrityError):
        _add_item(session_factory, _item("open", now))
    with unit_of_work(session_factory) as session:
        assert session.query(NluInboxItem).count() == 4
