"""The operators' retraining loop: the NLU inbox (items and their hits), the model registry
(models and their events) and the background training jobs (at most one queued or running:
a partial unique index on status).

Revision ID: 0004_nlu
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_nlu"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nlu_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("config_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("train_seconds", sa.Double(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("comparison", sa.JSON(), nullable=True),
        sa.Column("guard_passed", sa.Boolean(), nullable=True),
        sa.Column("guard_reasons", sa.JSON(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("override_by_name", sa.String(length=64), nullable=True),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deployed_by_name", sa.String(length=64), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('training', 'candidate', 'refused', 'live', 'retired', 'failed')",
            name=op.f("ck_nlu_models_status"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_users.id"],
            name=op.f("fk_nlu_models_created_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["nlu_models.id"],
            name=op.f("fk_nlu_models_parent_id_nlu_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_models")),
        sa.UniqueConstraint("file_name", name=op.f("uq_nlu_models_file_name")),
    )
    with op.batch_alter_table("nlu_models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_nlu_models_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "nlu_inbox_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=255), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("predicted_intent", sa.String(length=128), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("reasons", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("label_intent", sa.String(length=128), nullable=True),
        sa.Column("label_entities", sa.JSON(), nullable=True),
        sa.Column("labelled_by", sa.Integer(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_model_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'labelled', 'out_of_scope', 'ignored', 'new_intent')",
            name=op.f("ck_nlu_inbox_items_status"),
        ),
        sa.CheckConstraint("count >= 0", name=op.f("ck_nlu_inbox_items_count")),
        sa.ForeignKeyConstraint(
            ["labelled_by"],
            ["staff_users.id"],
            name=op.f("fk_nlu_inbox_items_labelled_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["trained_model_id"],
            ["nlu_models.id"],
            name=op.f("fk_nlu_inbox_items_trained_model_id_nlu_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_inbox_items")),
    )
    with op.batch_alter_table("nlu_inbox_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nlu_inbox_items_group_key"), ["group_key"], unique=False
        )
        batch_op.create_index("ix_nlu_inbox_items_status_count", ["status", "count"], unique=False)
        batch_op.create_index(
            "ix_nlu_inbox_items_status_last_seen_at", ["status", "last_seen_at"], unique=False
        )

    op.create_table(
        "nlu_model_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('train', 'candidate', 'refuse', 'override', 'deploy', 'rollback', 'retire',"
            " 'fail', 'delete', 'note')",
            name=op.f("ck_nlu_model_events_action"),
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["nlu_models.id"],
            name=op.f("fk_nlu_model_events_model_id_nlu_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_model_events")),
    )
    with op.batch_alter_table("nlu_model_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nlu_model_events_model_id"), ["model_id"], unique=False
        )

    op.create_table(
        "nlu_training_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("requested_by_name", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('train', 'cross_validation')", name=op.f("ck_nlu_training_jobs_kind")
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_nlu_training_jobs_status"),
        ),
        sa.CheckConstraint(
            "progress BETWEEN 0 AND 100", name=op.f("ck_nlu_training_jobs_progress")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["nlu_models.id"],
            name=op.f("fk_nlu_training_jobs_model_id_nlu_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_training_jobs")),
    )
    with op.batch_alter_table("nlu_training_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_nlu_training_jobs_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "uq_nlu_training_jobs_active",
            ["status"],
            unique=True,
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )

    op.create_table(
        "nlu_inbox_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("predicted_intent", sa.String(length=128), nullable=True),
        sa.Column("flagged_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('low_confidence', 'fallback', 'handoff', 'flagged')",
            name=op.f("ck_nlu_inbox_hits_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["flagged_by"],
            ["staff_users.id"],
            name=op.f("fk_nlu_inbox_hits_flagged_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["nlu_inbox_items.id"],
            name=op.f("fk_nlu_inbox_hits_item_id_nlu_inbox_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_nlu_inbox_hits_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlu_inbox_hits")),
        sa.UniqueConstraint(
            "item_id", "message_id", name=op.f("uq_nlu_inbox_hits_item_id_message_id")
        ),
    )
    with op.batch_alter_table("nlu_inbox_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nlu_inbox_hits_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_nlu_inbox_hits_message_id"), ["message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("nlu_inbox_hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nlu_inbox_hits_message_id"))
        batch_op.drop_index(batch_op.f("ix_nlu_inbox_hits_item_id"))

    op.drop_table("nlu_inbox_hits")
    with op.batch_alter_table("nlu_training_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_nlu_training_jobs_active",
            sqlite_where=sa.text("status IN ('queued', 'running')"),
            postgresql_where=sa.text("status IN ('queued', 'running')"),
        )
        batch_op.drop_index("ix_nlu_training_jobs_created_at")

    op.drop_table("nlu_training_jobs")
    with op.batch_alter_table("nlu_model_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nlu_model_events_model_id"))

    op.drop_table("nlu_model_events")
    with op.batch_alter_table("nlu_inbox_items", schema=None) as batch_op:
        batch_op.drop_index("ix_nlu_inbox_items_status_last_seen_at")
        batch_op.drop_index("ix_nlu_inbox_items_status_count")
        batch_op.drop_index(batch_op.f("ix_nlu_inbox_items_group_key"))

    op.drop_table("nlu_inbox_items")
    with op.batch_alter_table("nlu_models", schema=None) as batch_op:
        batch_op.drop_index("ix_nlu_models_status_created_at")

    op.drop_table("nlu_models")
