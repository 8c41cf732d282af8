"""Schema changes more than one migration makes (store/migrations/versions/)."""

from __future__ import annotations

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
