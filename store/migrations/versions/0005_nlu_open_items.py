"""NLU inbox: at most one open item per normalised text (a partial unique index), so two
gateway workers capturing the same text at once count it in one item.

Revision ID: 0005_nlu_open_items
Revises: 0004_nlu
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_nlu_open_items"
down_revision: str | None = "0004_nlu"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table("nlu_inbox_items", schema=None) as batch_op:
        batch_op.create_index(
            "uq_nlu_inbox_items_open_group_key",
            ["group_key"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("nlu_inbox_items", schema=None) as batch_op:
        batch_op.drop_index("uq_nlu_inbox_items_open_group_key")
