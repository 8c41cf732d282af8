"""Who handled each complaint and application, in the service-quality facts (issue 18): a
`handler_id` (the staff user's id) on `quality_ticket_facts`, `quality_application_facts` and
`quality_stage_facts`, so a team filter narrows the complaint and application figures to the
items its people handled (docs/quality.md, 八).

The facts already stored were measured without it: the migration forgets how far the refresh
read (`quality_refresh_state` emptied), so the next refresh measures everything again and fills
the column, the way a change of the configuration does (store/quality/facts/refresh.py). On a
large station run `python -m store quality-refresh` after migrating, rather than leave it to the
first view of the dashboard.

SQLite: nullable columns without a reference, added in place (no batch copy).

Revision ID: 0020_quality_handlers
Revises: 0019_report_jobs
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_quality_handlers"
down_revision: str | None = "0019_report_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("quality_ticket_facts", "quality_application_facts", "quality_stage_facts")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("handler_id", sa.Integer(), nullable=True))
    op.execute(sa.text("DELETE FROM quality_refresh_state"))


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_column(table, "handler_id")
