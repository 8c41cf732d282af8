"""Teams (班组) for supervisors, and ticket categories staff can correct: a `teams` table,
`staff_users.team_id` and `crews.team_id` (the team a person works in, the team overseeing a
crew), and `tickets.category` (the category staff chose; until then the service-quality figures
guess it from the description).

SQLite: columns are added in place, references declared on the new column (no batch copy:
store/migration_helpers.py explains why).

Revision ID: 0018_teams_categories
Revises: 0017_notice_not_now
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.migration_helpers import add_reference, drop_reference

revision: str = "0018_teams_categories"
down_revision: str | None = "0017_notice_not_now"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
    )
    add_reference("staff_users", "team_id", "teams", "SET NULL")
    add_reference("crews", "team_id", "teams", "SET NULL")
    op.add_column("tickets", sa.Column("category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("tickets", "category")
    drop_reference("crews", "team_id", "teams", "SET NULL")
    drop_reference("staff_users", "team_id", "teams", "SET NULL")
    op.drop_table("teams")
