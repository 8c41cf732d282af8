"""Service-quality indexes for the county-year dashboard (`make bench --only quality`): the open
applications past their due date (outcome + due_at) and the stage stays not ended yet (a partial
index on due_at, the few the clock can still make late) replace the two plain due_at indexes.

Revision ID: 0016_quality_indexes
Revises: 0015_wechat
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_quality_indexes"
down_revision: str | None = "0015_wechat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAYING = sa.text("left_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("quality_application_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_application_facts_due_at")
        batch_op.create_index(
            "ix_quality_application_facts_outcome_due_at", ["outcome", "due_at"], unique=False
        )
    with op.batch_alter_table("quality_stage_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_stage_facts_due_at")
        batch_op.create_index(
            "ix_quality_stage_facts_open_due_at",
            ["due_at"],
            sqlite_where=_STAYING,
            postgresql_where=_STAYING,
        )


def downgrade() -> None:
    with op.batch_alter_table("quality_stage_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_stage_facts_open_due_at")
        batch_op.create_index("ix_quality_stage_facts_due_at", ["due_at"], unique=False)
    with op.batch_alter_table("quality_application_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_application_facts_outcome_due_at")
        batch_op.create_index("ix_quality_application_facts_due_at", ["due_at"], unique=False)
