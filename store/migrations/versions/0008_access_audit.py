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

from store.migration_helpers import staff_roles

revision: str = "0008_access_audit"
down_revision: str | None = "0007_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = "role IN ('agent', 'supervisor', 'operator')"
ROLES_AFTER = "role IN ('agent', 'supervisor', 'manager', 'operator')"


def upgrade() -> None:
    staff_roles(ROLES_BEFORE, ROLES_AFTER)
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
    staff_roles(ROLES_AFTER, ROLES_BEFORE)
