"""Schema changes more than one migration makes (store/migrations/versions/)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op


def staff_roles(before: str, after: str) -> None:
    """Change the check constraint on staff_users.role from `before` to `after`."""
    change_check("staff_users", "role", before, after)


def change_check(table: str, name: str, before: str, after: str) -> None:
    """Change the check constraint `ck_<table>_<name>` from `before` to `after` (its SQL)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sqlite_check(bind, table, before, after)
        return
    op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, sa.text(after))


def sqlite_check(bind: sa.Connection, table: str, before: str, after: str) -> None:
    """SQLite cannot alter a check constraint, and Alembic's batch mode would copy the table
    and drop the original: with foreign keys on (store/db.py) that drop deletes or unlinks
    the rows that reference it (staff_users: every console session and handoff; outages: their
    tickets' link, areas and notices) through ON DELETE CASCADE / SET NULL. SQLite documents a
    procedure for changing a CHECK without a new table (lang_altertable.html, "Making Other
    Kinds Of Table Schema Changes"): edit the table's definition in sqlite_schema and bump the
    schema version so that every connection reads it again. Every existing row must satisfy
    both constraints (a downgrade first moves the rows of a value it removes)."""
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        changed = bind.execute(
            sa.text(
                "UPDATE sqlite_master SET sql = replace(sql, :before, :after)"
                " WHERE type = 'table' AND name = :table AND instr(sql, :before) > 0"
            ),
            {"before": before, "after": after, "table": table},
        ).rowcount
        if changed != 1:
            raise RuntimeError(f"{table}: the constraint {before!r} was not found")
        bind.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def add_reference(table: str, column: str, target: str, ondelete: str) -> None:
    """A nullable integer column referencing `target`.id (ON DELETE `ondelete`)."""
    name = f"fk_{table}_{column}_{target}"
    if not _sqlite():
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(name, table, target, [column], ["id"], ondelete=ondelete)
        return
    op.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER"))
    clause = (
        f", CONSTRAINT {name} FOREIGN KEY({column}) REFERENCES {target} (id) ON DELETE {ondelete}"
    )
    sqlite_edit_table(table, lambda sql: sql[: sql.rindex(")")] + clause + ")")


def drop_reference(table: str, column: str, target: str, ondelete: str) -> None:
    name = f"fk_{table}_{column}_{target}"
    if not _sqlite():
        op.drop_constraint(name, table, type_="foreignkey")
        op.drop_column(table, column)
        return
    clause = (
        f", CONSTRAINT {name} FOREIGN KEY({column}) REFERENCES {target} (id) ON DELETE {ondelete}"
    )
    sqlite_edit_table(table, lambda sql: sql.replace(clause, ""))
    op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def sqlite_edit_table(table: str, edit: Callable[[str], str]) -> None:
    """SQLite cannot add a named table constraint to an existing table without copying it (and a
    copy would cascade as `sqlite_check` explains): SQLite's documented procedure
    edits the table's definition in sqlite_schema instead and bumps the schema version. Only
    constraints every row satisfies are added this way (a new column, all NULL)."""
    bind = op.get_bind()
    before = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar_one()
    after = edit(str(before))
    if after == before:
        raise RuntimeError(f"{table}: the table definition did not change")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        bind.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
            {"sql": after, "t": table},
        )
        bind.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
