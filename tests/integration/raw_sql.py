"""Plain SQL on an engine, for the migration tests (which work below the models: the schema of
the revision under test, not today's)."""

from __future__ import annotations

from sqlalchemy import Engine, text


def run(engine: Engine, sql: str, **values: object) -> None:
    """Execute `sql` with `values` in a transaction of its own."""
    with engine.begin() as conn:
        conn.execute(text(sql), values)


def one(engine: Engine, sql: str) -> object:
    """The one value `sql` selects."""
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()
