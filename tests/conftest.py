"""Shared fixtures: configuration, a frozen clock and real databases (SQLite and PostgreSQL).

Every test that uses a database fixture runs twice, on SQLite and on PostgreSQL (the PostgreSQL
case carries the `postgres` marker):

- `db_url` (per module): a fresh, empty database: a SQLite file in a temporary directory, or a
  new PostgreSQL schema `t_<random>` (selected with `search_path` in the URL's connect options)
  that is dropped afterwards. PostgreSQL comes from $TEST_DATABASE_URL; without it those cases
  are skipped, except under CI=true where they fail: CI must never silently skip them.
- `redis_base_url()`: Redis from $TEST_REDIS_URL, skipped (failed under CI=true) without it;
  `redis_prefix` (per test): a prefix for the test's own keys there, removed afterwards;
- `engine` (per module): `db_url` migrated with Alembic (never `create_all`: the migrations are
  under test too).
- `session_factory` (per test): sessions on `engine`; the database is emptied first.
- `seeded` (per test): that empty database filled with the demo data as of `now`. The demo is
  seeded once per backend into a template and copied row by row (ids included), which gives
  exactly the rows `store.demo.seed` would, in a fraction of the time.

And the fakes most tests share (tests/fakes/):

- `rasa` (per test): the fake Rasa server with its action server, on loopback;
- `console` (per test): the real gateway with the agent console on `db_url`, the staff of
  tests/fakes/console.py (`USERS`) plus a module's `console_staff`, cheap password hashing and
  recording channels "fake" and "web". A module whose console needs the demo data overrides
  `console_staff` with one that requests `seeded`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from store import demo
from store.config import Settings, load_settings
from store.db import make_engine, make_session_factory, migrate, normalise_url, unit_of_work
from store.models import Base
from tests.fakes.console import Console, cheap_password_hashing, make_staff, running_console
from tests.fakes.gateway import RecordingChannel
from tests.fakes.rasa import FakeRasa, fake_rasa_server

#: The demo's "now": Monday 23 November 2026, 10:00 station time.
DEMO_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def postgres_base_url() -> str:
    """$TEST_DATABASE_URL, or skip (fail under CI=true) when it is not set."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalise_url(url)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI")
    pytest.skip(
        "PostgreSQL case skipped: TEST_DATABASE_URL is not set"
        " (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
    )


def redis_base_url() -> str:
    """$TEST_REDIS_URL, or skip (fail under CI=true) when it is not set. Tests use keys of their
    own (a random prefix) and never flush the database: the machine's Redis is shared."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but TEST_REDIS_URL is not set: Redis tests must run in CI")
    pytest.skip("Redis case skipped: TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """This test's Redis keys (the machine's Redis is shared: never flushed), deleted after."""
    url = redis_base_url()
    name = f"t-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def create_database(backend: str, directory: Path) -> tuple[str, Callable[[], None]]:
    """A new empty database and the function that removes it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        return f"sqlite:///{directory / name}.db", lambda: None
    base = postgres_base_url()
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={name}"})

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def empty(engine: Engine) -> None:
    """No rows, ids from 1 again (what `demo.reset` does, which the seed CLI uses). On
    PostgreSQL by DELETE: the tables of a test hold a few hundred rows, where TRUNCATE (new
    files for every table) takes ~60 ms and DELETE ~10 ms, before every test."""
    if engine.dialect.name != "postgresql":
        with unit_of_work(make_session_factory(engine)) as session:
            demo.reset(session)
        return
    tables = list(reversed(Base.metadata.sorted_tables))  # children first
    sequences = [
        f"setval(pg_get_serial_sequence('{t.name}', 'id'), 1, false)" for t in tables if "id" in t.c
    ]
    with engine.begin() as conn:
        conn.execute(text("; ".join(f"DELETE FROM {t.name}" for t in tables)))
        conn.execute(text("SELECT " + ", ".join(sequences)))


def copy_rows(source: Engine, target: Engine) -> None:
    """Copy every row of `source` into the (empty, same-schema) `target`, ids included, by
    the database itself (INSERT ... SELECT), not through Python."""
    if target.dialect.name == "postgresql":  # the template is of the same backend
        with source.connect() as src, target.begin() as dst:
            _copy_schema(src, dst)
        return
    tables = Base.metadata.sorted_tables
    inserts = [f"INSERT INTO {t.name} SELECT * FROM template.{t.name}" for t in tables]
    with target.connect() as dst:
        # SQLite attaches and detaches only outside a transaction: before the first INSERT
        # (where pysqlite begins one) and after the commit
        dst.exec_driver_sql("ATTACH DATABASE ? AS template", (source.url.database,))
        try:
            for insert in inserts:
                dst.exec_driver_sql(insert)
            dst.commit()
        finally:
            dst.rollback()
            dst.exec_driver_sql("DETACH DATABASE template")


def _copy_schema(src: Connection, dst: Connection) -> None:
    """PostgreSQL: the test databases are schemas of one database, so the rows are copied by
    the server (INSERT ... SELECT), not through Python; the id sequences follow."""
    source = src.execute(text("SELECT current_schema()")).scalar_one()
    tables = Base.metadata.sorted_tables
    inserts = [f'INSERT INTO {t.name} SELECT * FROM "{source}".{t.name}' for t in tables]
    dst.execute(text("; ".join(inserts)))  # one round trip
    sequences = [
        f"setval(pg_get_serial_sequence('{t.name}', 'id'),"
        f" COALESCE((SELECT max(id) FROM {t.name}), 0) + 1, false)"
        for t in tables
        if "id" in t.c
    ]
    dst.execute(text("SELECT " + ", ".join(sequences)))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def now() -> datetime:
    """The frozen clock of database tests (the moment the demo data describes)."""
    return DEMO_NOW


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = create_database(backend, tmp_path_factory.mktemp("db"))
    yield url
    drop()


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[Engine]:
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    empty(engine)
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def demo_templates(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[Callable[[str], tuple[Engine, demo.DemoSummary]]]:
    """Per backend, built on first use: a migrated database seeded at DEMO_NOW."""
    built: dict[str, tuple[Engine, demo.DemoSummary]] = {}
    drops: list[Callable[[], None]] = []

    def get(backend: str) -> tuple[Engine, demo.DemoSummary]:
        if backend not in built:
            url, drop = create_database(backend, tmp_path_factory.mktemp("template"))
            drops.append(drop)
            migrate(url)
            engine = make_engine(url)
            with unit_of_work(make_session_factory(engine)) as session:
                built[backend] = engine, demo.seed(session, settings, now=DEMO_NOW)
        return built[backend]

    yield get
    for engine, _ in built.values():
        engine.dispose()
    for drop in drops:
        drop()


@pytest.fixture
def seeded(
    session_factory: sessionmaker[Session],
    engine: Engine,
    backend: str,
    demo_templates: Callable[[str], tuple[Engine, demo.DemoSummary]],
) -> demo.DemoSummary:
    """The demo station as of `now` (see docs/demo-data.md); returns the row counts."""
    template, summary = demo_templates(backend)
    copy_rows(template, engine)
    return summary


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with fake_rasa_server() as fake:
        yield fake


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    """Staff a module's console has besides tests/fakes/console.py's USERS: (role, max chats)
    by username. A module overrides it."""
    return {}


@pytest.fixture
async def console(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    console_staff: dict[str, tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Console]:
    cheap_password_hashing(monkeypatch)
    async with running_console(rasa, db_url, session_factory) as running:
        running.staff_ids.update(make_staff(session_factory, console_staff))
        running.router.register(RecordingChannel("web"))
        yield running
