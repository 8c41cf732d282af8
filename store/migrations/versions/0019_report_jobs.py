"""The console's report jobs ("generate now" in the background, issue 18): `quality_report_jobs`,
one row per report a manager asked for, running until its gateway's child process ends it done
(with its report) or failed / interrupted (with one line why). Two partial unique indexes over
the running rows hold across gateway replicas: one running job per kind and period, and one per
slot (the limit of jobs running at once, store/services/quality_report_jobs.py).

A new table only: nothing existing changes (SQLite: no batch copy).

Revision ID: 0019_report_jobs
Revises: 0018_teams_categories
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_report_jobs"
down_revision: str | None = "0018_teams_categories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUNNING = sa.text("state = 'running'")


def upgrade() -> None:
    op.create_table(
        "quality_report_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.CheckConstraint(
            "kind IN ('monthly', 'quarterly', 'annual', 'custom')",
            name=op.f("ck_quality_report_jobs_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('running', 'done', 'failed', 'interrupted')",
            name=op.f("ck_quality_report_jobs_state"),
        ),
        sa.CheckConstraint("slot >= 1", name=op.f("ck_quality_report_jobs_slot")),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["quality_reports.id"],
            name=op.f("fk_quality_report_jobs_report_id_quality_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_report_jobs")),
    )
    op.create_index(
        "uq_quality_report_jobs_running_period",
        "quality_report_jobs",
        ["kind", "period_label"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )
    op.create_index(
        "uq_quality_report_jobs_running_slot",
        "quality_report_jobs",
        ["slot"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )
    op.create_index(
        "ix_quality_report_jobs_started_at", "quality_report_jobs", ["started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_quality_report_jobs_started_at", table_name="quality_report_jobs")
    op.drop_index("uq_quality_report_jobs_running_slot", table_name="quality_report_jobs")
    op.drop_index("uq_quality_report_jobs_running_period", table_name="quality_report_jobs")
    op.drop_table("quality_report_jobs")
