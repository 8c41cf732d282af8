"""The back office's cases: complaints and feedback (handler, contact, reply, the customer's
verdict), applications (documents asked for, the approval or rejection), and the access kind of
a customer's page (`customer_record`).

New nullable columns only, added in place (no table copy: tickets and applications have child
tables whose ON DELETE CASCADE a copy-and-drop would fire). The verdict and decision values are
checked by their services (store/services/case_feedback.py, case_applications.py).

Revision ID: 0011_cases
Revises: 0010_dispatch
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011_cases"
down_revision: str | None = "0010_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('transcript', 'customer', 'inbox_context')"
KINDS_AFTER = "kind IN ('transcript', 'customer', 'inbox_context', 'customer_record')"


def _ticket_columns() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("handler", sa.String(length=64), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
    )


def _application_columns() -> tuple[sa.Column[Any], ...]:
    return (
        sa.Column("documents_requested", sa.JSON(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )


def upgrade() -> None:
    for column in _ticket_columns():
        op.add_column("tickets", column)
    for column in _application_columns():
        op.add_column("applications", column)
    _access_kinds(KINDS_BEFORE, KINDS_AFTER)


def downgrade() -> None:
    """Openings of customer pages leave the access log with their kind (the log cannot record
    them any more); rejected applications end as withdrawn."""
    op.execute(sa.text("DELETE FROM access_audit WHERE kind = 'customer_record'"))
    op.execute(sa.text("UPDATE applications SET stage = 'cancelled' WHERE stage = 'rejected'"))
    _access_kinds(KINDS_AFTER, KINDS_BEFORE)
    for column in reversed(_application_columns()):
        op.drop_column("applications", column.name)
    for column in reversed(_ticket_columns()):
        op.drop_column("tickets", column.name)


def _access_kinds(before: str, after: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_check(bind, "access_audit", before, after)
        return
    op.drop_constraint(op.f("ck_access_audit_kind"), "access_audit", type_="check")
    op.create_check_constraint(op.f("ck_access_audit_kind"), "access_audit", sa.text(after))


def _sqlite_check(bind: sa.Connection, table: str, before: str, after: str) -> None:
    """SQLite's documented way of changing a CHECK without copying the table (as
    store/migration_helpers.py does for staff_users): edit the table's definition in
    sqlite_master and bump the schema version. Every row satisfies the new constraint (the
    downgrade first removes the rows of the kind it drops)."""
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
