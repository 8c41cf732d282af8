"""Staff access to customers' data: the `manager` role, and the access audit (who opened which
conversation's transcript or customer panel, when, from where).

Revision ID: 0008_access_audit
Revises: 0007_verification
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_access_audit"
down_revision: str | None = "0007_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = "role IN ('agent', 'supervisor', 'operator')"
ROLES_AFTER = "role IN ('agent', 'supervisor', 'manager', 'operator')"


def _staff_roles(before: str, after: str) -> None:
    """Change the check constraint on staff_users.role from `before` to `after`."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_staff_roles(bind, before, after)
        return
    op.drop_constraint(op.f("ck_staff_users_role"), "staff_users", type_="check")
    op.create_check_constraint(op.f("ck_staff_users_role"), "staff_users", sa.text(after))


def _sqlite_staff_roles(bind: sa.Connection, before: str, after: str) -> None:
    """SQLite cannot alter a check constraint, and Alembic's batch mode would copy staff_users
    and drop the original: with foreign keys on (store/db.py) that drop deletes every console
    session and unassigns every handoff (ON DELETE CASCADE / SET NULL). SQLite documents a
    procedure for changing a CHECK without a new table (lang_altertable.html, "Making Other
    Kinds Of Table Schema Changes"): edit the table's definition in sqlite_schema and bump the
    schema version so that every connection reads it again. Every existing row satisfies
    both constraints (the downgrade first moves managers to supervisor)."""
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


def upgrade() -> None:
    _staff_roles(ROLES_BEFORE, ROLES_AFTER)
    op.create_table(
        "access_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("conversation_pk", sa.Integer(), nullable=True),
        sa.Column("conversation_label", sa.String(length=64), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('transcript', 'customer', 'inbox_context')", name=op.f("ck_access_audit_kind")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_access_audit_conversation_pk_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_access_audit_staff_user_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_audit")),
    )
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.create_index("ix_access_audit_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_access_audit_conversation_pk_at", ["conversation_pk", "at"], unique=False
        )
        batch_op.create_index(
            "ix_access_audit_staff_user_id_at", ["staff_user_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("access_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_access_audit_staff_user_id_at")
        batch_op.drop_index("ix_access_audit_conversation_pk_at")
        batch_op.drop_index("ix_access_audit_at")
    op.drop_table("access_audit")
    op.execute(sa.text("UPDATE staff_users SET role = 'supervisor' WHERE role = 'manager'"))
    _staff_roles(ROLES_AFTER, ROLES_BEFORE)
