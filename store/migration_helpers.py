"""Schema changes more than one migration makes (store/migrations/versions/)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def staff_roles(before: str, after: str) -> None:
    """Change the check constraint on staff_users.role from `before` to `after`."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sqlite_staff_roles(bind, before, after)
        return
    op.drop_constraint(op.f("ck_staff_users_role"), "staff_users", type_="check")
    op.create_check_constraint(op.f("ck_staff_users_role"), "staff_users", sa.text(after))


def sqlite_staff_roles(bind: sa.Connection, before: str, after: str) -> None:
    """SQLite cannot alter a check constraint, and Alembic's batch mode would copy staff_users
    and drop the original: with foreign keys on (store/db.py) that drop deletes every console
    session and unassigns every handoff (ON DELETE CASCADE / SET NULL). SQLite documents a
    procedure for changing a CHECK without a new table (lang_altertable.html, "Making Other
    Kinds Of Table Schema Changes"): edit the table's definition in sqlite_schema and bump the
    schema version so that every connection reads it again. Every existing row satisfies
    both constraints (a downgrade first moves the staff of a role it removes to another role)."""
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    try:
        changed = bind.execute(
            sa.text(
                "UPDATE sqlite_master SET sql = replace(sql, :before, :after)"
                " WHERE type = 'table' AND name = 'staff_users' AND instr(sql, :before) > 0"
            ),
            {"before": before, "after": after},
        ).rowcount
        if changed != 1:
            raise RuntimeError(f"staff_users: the constraint {before!r} was not found")
        bind.exec_driver_sql(f"PRAGMA schema_version={version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema=OFF")
