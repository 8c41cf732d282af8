"""PostgreSQL's way of loading millions of rows (its manual, "Populating a Database"): the big
tables' secondary indexes and foreign keys are dropped before the COPY and made again after it,
in the same transaction, so each is built once in bulk instead of row by row (for the county's
2,000,000 messages several times faster). The definitions are read from the database itself
(pg_get_indexdef, pg_get_constraintdef), so whatever the migrations made is made again exactly.

Only the county benchmark's COPY uses it: the tables are locked until the commit, which is
fine for a benchmark database and wrong for a live one.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.orm import Session

BIG_TABLES: Final = frozenset({"messages", "ticket_events", "tickets"})

_CONSTRAINTS = text(
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE conrelid = CAST(:t AS regclass) AND contype IN ('f', 'u') ORDER BY conname"
)
_INDEXES = text(
    "SELECT CAST(indexrelid AS regclass)::text, pg_get_indexdef(indexrelid) FROM pg_index i"
    " WHERE indrelid = CAST(:t AS regclass) AND NOT indisprimary"
    " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
    " ORDER BY 1"
)


class DeferredIndexes:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._restore: dict[str, list[str]] = {}

    def drop(self, table: str) -> None:
        """Drop `table`'s secondary indexes and its foreign keys and unique constraints (once)."""
        if table not in BIG_TABLES or table in self._restore:
            return
        statements: list[str] = []
        for name, definition in self.session.execute(_CONSTRAINTS, {"t": table}).all():
            self.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
            statements.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in self.session.execute(_INDEXES, {"t": table}).all():
            self.session.execute(text(f"DROP INDEX {name}"))
            statements.append(definition)
        self._restore[table] = statements

    def restore(self) -> None:
        """Make every dropped index and constraint again (foreign keys checked in one pass),
        and refresh the planner's statistics of the tables."""
        for table, statements in self._restore.items():
            for statement in statements:
                self.session.execute(text(statement))
            self.session.execute(text(f"ANALYZE {table}"))
        self._restore.clear()
