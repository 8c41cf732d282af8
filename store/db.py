"""Engines, sessions and the unit of work; Alembic migrations run from code.

Nothing is created at import time. SQLite (the default, a file under var/) is for the demo and
tests; PostgreSQL through psycopg 3 for a real station. A unit of work is one short session:
it commits when the block succeeds and rolls back when it raises.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from store.config import PROJECT_ROOT

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT = 30

T = TypeVar("T")


def database_url() -> str:
    """$DATABASE_URL, or the SQLite file var/assistant.db under the project root."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return normalise_url(url)
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'assistant.db'}"


def normalise_url(url: str | URL) -> str:
    """postgres:// and postgresql:// → postgresql+psycopg:// (the driver installed here)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
    cursor.close()


def _create_private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite opens it: it holds customers'
    names, phones and conversations, and SQLite would create it with the process's umask
    (world-readable by default). Its -wal and -shm files get the same mode from SQLite. An
    existing file keeps the mode its operator gave it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    os.chmod(path, 0o600)  # the umask may have taken bits away, never added: make it exact


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: `database_url()`), configured for its backend.

    Statement parameters (phones, names, messages) are kept out of SQLAlchemy's log lines and
    exception messages (`hide_parameters`): a failed INSERT would otherwise quote them into
    every traceback it ends up in."""
    parsed = make_url(normalise_url(url or database_url()))
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            _create_private_file(path)
        connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (callers format them afterwards)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def run_unit(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """`work` in one unit of work (commit on success, roll back on error)."""
    with unit_of_work(factory) as session:
        return work(session)


async def in_thread(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """`work` in one unit of work in a worker thread: how the event loop reaches the database."""
    return await asyncio.to_thread(run_unit, factory, work)


def alembic_config(url: str | None = None) -> Any:
    """The Alembic configuration of store/migrations, pointed at `url`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = normalise_url(url or database_url())
    return config


def head_revision() -> str:
    """The newest migration of store/migrations (an error when the chain has more than one)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError("store/migrations has no migration")
    return str(head)


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at `url` (default: `database_url()`) to `revision`."""
    from alembic import command

    target = normalise_url(url or database_url())
    parsed = make_url(target)
    # only a SQLite URL names a file (a PostgreSQL database named "test" is not ./test)
    path = _sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    if path is not None:
        _create_private_file(path)
    command.upgrade(alembic_config(target), revision)
