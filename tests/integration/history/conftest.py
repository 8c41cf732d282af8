"""The history's tests (store/demodata/history/): the demo station with its thirteen months of
history, seeded once per module and backend at DEMO_NOW, and databases of a test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from store import demo
from store.config import Settings
from store.db import make_engine, make_session_factory, migrate, unit_of_work
from store.demodata.history import seed_history
from store.models import Base
from tests.conftest import DEMO_NOW, create_database, empty


@pytest.fixture(scope="module")
def before(engine: Engine, settings: Settings) -> dict[str, int]:
    """The demo station and its history in the module's database; the largest id of every
    table before the history (a test tells the history's rows from the demo's own by them)."""
    empty(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        demo.seed(session, settings, now=DEMO_NOW)
        ids = {
            t.name: int(session.execute(select(func.max(t.c.id))).scalar() or 0)
            for t in Base.metadata.sorted_tables
            if "id" in t.c
        }
        assert seed_history(session, settings, now=DEMO_NOW) is not None
    return ids


@pytest.fixture
def session(before: dict[str, int], engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated database of the test's own, its URL and engine (emptying one with the
    history's 45,000 messages by DELETE would take minutes: each message's replies are looked
    for)."""
    url, drop = create_database(backend, tmp_path)
    migrate(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop()
