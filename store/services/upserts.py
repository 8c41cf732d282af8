"""INSERT ... ON CONFLICT DO NOTHING on both backends: the database decides who was first.

Claims (a conversation row, a notification delivery, a notifier cursor) must be atomic across
processes; a select-then-insert would let two processes both see "absent" and both proceed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, TextClause, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.models import Base


def insert_ignore(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    keys: Sequence[InstrumentedAttribute[Any] | Column[Any]] = (),
    *,
    index_where: ColumnElement[bool] | TextClause | None = None,
) -> bool:
    """Insert one row unless a row with the same `keys` exists; True when this call inserted.

    `index_where`: the WHERE of a partial unique index on `keys` (the conflict to ignore).
    No `keys`: unless the row conflicts with any unique index or constraint of the table.
    """
    dialect = session.get_bind().dialect.name
    target = list(keys) or None
    where = index_where if target else None
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = (
            postgresql.insert(model)
            .values(dict(values))
            .on_conflict_do_nothing(index_elements=target, index_where=where)
        )
    elif dialect == "sqlite":
        stmt = (
            sqlite.insert(model)
            .values(dict(values))
            .on_conflict_do_nothing(index_elements=target, index_where=where)
        )
    else:
        raise NotImplementedError(f"insert_ignore is not implemented for {dialect}")
    # RETURNING, not rowcount: an ORM-executed insert may report rowcount -1 (psycopg)
    returned = keys[0] if keys else inspect(model).primary_key[0]
    return session.execute(stmt.returning(returned)).first() is not None
