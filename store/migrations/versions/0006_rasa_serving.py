"""Blue/green model deployment: which of the two Rasa servers answers customers.

Revision ID: 0006_rasa_serving
Revises: 0005_nlu_open_items
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_rasa_serving"
down_revision: str | None = "0005_nlu_open_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rasa_serving",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=255), nullable=False),
        sa.Column("model_file", sa.String(length=255), nullable=True),
        sa.Column("switched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("switched_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rasa_serving")),
    )


def downgrade() -> None:
    op.drop_table("rasa_serving")
