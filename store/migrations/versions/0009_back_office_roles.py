"""The back office's roles: dispatcher (调度), crew (抢修班组 member) and clerk (营业员).

Revision ID: 0009_back_office_roles
Revises: 0008_access_audit
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migration_helpers import staff_roles

revision: str = "0009_back_office_roles"
down_revision: str | None = "0008_access_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = "role IN ('agent', 'supervisor', 'manager', 'operator')"
ROLES_AFTER = (
    "role IN ('agent', 'supervisor', 'manager', 'operator', 'dispatcher', 'crew', 'clerk')"
)


def upgrade() -> None:
    staff_roles(ROLES_BEFORE, ROLES_AFTER)


def downgrade() -> None:
    """The back office's staff become agents (they keep their logins, lose the back office)."""
    moved = "UPDATE staff_users SET role = 'agent' WHERE role IN ('dispatcher', 'crew', 'clerk')"
    op.execute(sa.text(moved))
    staff_roles(ROLES_AFTER, ROLES_BEFORE)
