"""Service quality: improvement plan measures, stored evaluation reports, daily roll-ups.

The roll-ups are per-item facts (a ticket, an application and its stages, a handoff, a
conversation's day) measured once from the stores' events (store/quality/facts/), with the
cursors of their refresh; the figures of issue 18 are SQL aggregates over them.

Revision ID: 0013_quality
Revises: 0012_imports
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_quality"
down_revision: str | None = "0012_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("figure_key", sa.String(length=64), nullable=False),
        sa.Column("baseline", sa.Double(), nullable=True),
        sa.Column("target", sa.Double(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('planned', 'in_progress', 'done', 'dropped')",
            name=op.f("ck_quality_measures_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_measures")),
    )
    with op.batch_alter_table("quality_measures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_measures_status_due_date", ["status", "due_date"], unique=False
        )

    op.create_table(
        "quality_refresh_state",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_quality_refresh_state")),
    )
    op.create_table(
        "quality_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=64), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("csv", sa.LargeBinary(), nullable=True),
        sa.Column("xlsx", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('monthly', 'quarterly', 'annual', 'custom')",
            name=op.f("ck_quality_reports_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_reports")),
    )
    with op.batch_alter_table("quality_reports", schema=None) as batch_op:
        batch_op.create_index("ix_quality_reports_period_label", ["period_label"], unique=False)
        batch_op.create_index(
            "uq_quality_reports_scheduled",
            ["kind", "period_label"],
            unique=True,
            sqlite_where=sa.text("generated_by = 'schedule'"),
            postgresql_where=sa.text("generated_by = 'schedule'"),
        )

    op.create_table(
        "quality_conversation_days",
        sa.Column("conversation_pk", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("customer_messages", sa.Integer(), nullable=False),
        sa.Column("fallback_messages", sa.Integer(), nullable=False),
        sa.Column("busy_replies", sa.Integer(), nullable=False),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_quality_conversation_days_conversation_pk_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "conversation_pk", "day", name=op.f("pk_quality_conversation_days")
        ),
    )
    with op.batch_alter_table("quality_conversation_days", schema=None) as batch_op:
        batch_op.create_index("ix_quality_conversation_days_day", ["day"], unique=False)

    op.create_table(
        "quality_application_facts",
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_day", sa.Date(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station_days", sa.Double(), nullable=True),
        sa.Column("limit_days", sa.Integer(), nullable=False),
        sa.Column("sent_back", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_quality_application_facts_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_quality_application_facts")),
    )
    with op.batch_alter_table("quality_application_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_application_facts_closed_day", ["closed_day"], unique=False
        )
        batch_op.create_index("ix_quality_application_facts_day", ["day"], unique=False)
        batch_op.create_index("ix_quality_application_facts_due_at", ["due_at"], unique=False)

    op.create_table(
        "quality_handoff_facts",
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("conversation_pk", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("end_state", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_minutes", sa.Double(), nullable=True),
        sa.Column("first_response_minutes", sa.Double(), nullable=True),
        sa.Column("resolution_minutes", sa.Double(), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_pk"],
            ["conversations.id"],
            name=op.f("fk_quality_handoff_facts_conversation_pk_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_quality_handoff_facts_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handoff_id", name=op.f("pk_quality_handoff_facts")),
    )
    with op.batch_alter_table("quality_handoff_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_handoff_facts_agent_id_day", ["agent_id", "day"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quality_handoff_facts_conversation_pk"),
            ["conversation_pk"],
            unique=False,
        )
        batch_op.create_index("ix_quality_handoff_facts_day", ["day"], unique=False)

    op.create_table(
        "quality_ticket_facts",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("area_kind", sa.String(length=16), nullable=False),
        sa.Column("crew_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("merged", sa.Boolean(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrival_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrival_minutes", sa.Double(), nullable=True),
        sa.Column("commit_minutes", sa.Double(), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restore_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restoration_hours", sa.Double(), nullable=True),
        sa.Column("commit_hours", sa.Double(), nullable=True),
        sa.Column("callback_done", sa.Boolean(), nullable=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_quality_ticket_facts_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_quality_ticket_facts")),
    )
    with op.batch_alter_table("quality_ticket_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_ticket_facts_crew_id_day", ["crew_id", "day"], unique=False
        )
        batch_op.create_index("ix_quality_ticket_facts_kind_day", ["kind", "day"], unique=False)

    op.create_table(
        "quality_stage_facts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_day", sa.Date(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("limit_days", sa.Integer(), nullable=False),
        sa.Column("working_days", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_quality_stage_facts_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["application_events.id"],
            name=op.f("fk_quality_stage_facts_event_id_application_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_quality_stage_facts")),
    )
    with op.batch_alter_table("quality_stage_facts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_stage_facts_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index("ix_quality_stage_facts_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_quality_stage_facts_left_day", ["left_day"], unique=False)


def downgrade() -> None:
    """Tables only: dropping a table drops its indexes."""
    op.drop_table("quality_stage_facts")
    op.drop_table("quality_ticket_facts")
    op.drop_table("quality_handoff_facts")
    op.drop_table("quality_application_facts")
    op.drop_table("quality_conversation_days")
    op.drop_table("quality_reports")
    op.drop_table("quality_refresh_state")
    op.drop_table("quality_measures")
