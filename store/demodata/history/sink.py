"""Writing generated history fast: rows buffered per table and written in bulk, parents first.

The history is hundreds of thousands of rows (millions for the county benchmark), far too many
for ORM objects. The generator hands finished rows here as dicts of column values; they are
written in the order of `Base.metadata.sorted_tables` (a ticket before its events), by one
`executemany` per table, or by PostgreSQL's COPY when asked (the big tables' indexes then made
after the load: bulk_pg.py).

Ids are given here, not by the database (the next after the table's largest), so a ticket's
events can name it before anything is written and the rows are the same on every run. On
PostgreSQL the id sequences are moved past them at the end (`finish`). A table's rows all
carry the same columns; the ones left out get their server default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final, cast

from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.orm import Session

from store.demodata.history.bulk_pg import DeferredIndexes
from store.models import Base

Row = dict[str, Any]
BATCH_ROWS: Final = 50_000
"""Rows buffered before they are written (bounds the memory of the county's millions)."""


def table_of(model: type[Base]) -> Table:
    """The model's table (what the sink writes to)."""
    return cast(Table, model.__table__)


class RowSink:
    """Buffered bulk inserts into the session's transaction (nothing is committed here)."""

    def __init__(self, session: Session, *, copy: bool = False, batch: int = BATCH_ROWS) -> None:
        self.session = session
        self.copy = copy and session.get_bind().dialect.name == "postgresql"
        self._deferred = DeferredIndexes(session)
        self.batch = batch
        self._rows: dict[str, list[Row]] = {}
        self._columns: dict[str, list[str]] = {}
        self._next_id: dict[str, int] = {}
        self._buffered = 0
        self.written: dict[str, int] = {}

    def new_id(self, table: Table) -> int:
        """The id of a row about to be added to `table` (ascending, after the table's rows)."""
        name = table.name
        if name not in self._next_id:
            largest = self.session.execute(select(func.max(table.c.id))).scalar()
            self._next_id[name] = int(largest or 0) + 1
        value = self._next_id[name]
        self._next_id[name] = value + 1
        return value

    def add(self, table: Table, row: Row) -> None:
        """Buffer one row (written by the next `checkpoint` over the batch size, or `finish`)."""
        name = table.name
        rows = self._rows.get(name)
        if rows is None:
            rows = self._rows[name] = []
            self._columns.setdefault(name, list(row))
        if len(row) != len(self._columns[name]):
            raise ValueError(f"{name}: rows with different columns {sorted(row)}")
        rows.append(row)
        self._buffered += 1

    def checkpoint(self) -> None:
        """Write the buffers when they are full. Called between whole entities (a ticket with
        its events, a conversation with its messages), never inside one."""
        if self._buffered >= self.batch:
            self.flush()

    def flush(self) -> None:
        for table in Base.metadata.sorted_tables:
            rows = self._rows.pop(table.name, None)
            if rows:
                self._write(table, rows)
                self.written[table.name] = self.written.get(table.name, 0) + len(rows)
        self._buffered = 0

    def finish(self) -> None:
        """Write what is left; on PostgreSQL make the indexes the COPY went without and move
        the id sequences past the given ids."""
        self.flush()
        if self.session.get_bind().dialect.name != "postgresql":
            return
        self._deferred.restore()
        for name in self._next_id:
            self.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                    f" (SELECT COALESCE(max(id), 0) + 1 FROM {name}), false)"
                )
            )

    def _write(self, table: Table, rows: list[Row]) -> None:
        if self.copy:
            self._copy(table, rows)
        else:
            self.session.execute(insert(table), rows)

    def _copy(self, table: Table, rows: list[Row]) -> None:
        self._deferred.drop(table.name)
        columns = self._columns[table.name]
        as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
        names = ", ".join(f'"{c}"' for c in columns)
        raw = self.session.connection().connection.driver_connection
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(_values(row, columns, as_json))


def _json(value: Any) -> str:
    return "[]" if value == [] else json.dumps(value, ensure_ascii=False)


def _values(row: Row, columns: list[str], as_json: set[str]) -> Iterable[Any]:
    """The row's values in column order, JSON columns as their text (what COPY reads)."""
    if not as_json:
        return [row[c] for c in columns]
    return [_json(row[c]) if c in as_json else row[c] for c in columns]
